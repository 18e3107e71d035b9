/** Linear layer with PyTorch's default init. Weight stored [in, out] (PyTorch: [out, in]). */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../util/shape.js';
import { type Rng, torchDefaultUniform } from './init.js';
import { Module, Parameter } from './module.js';
import { recordMacs } from './op-counter.js';
import { activeTracer } from './trace-hook.js';

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    rng: Rng,
    options: { bias?: boolean } = {},
  ) {
    super();
    this.weight = this.addParameter(
      'weight',
      new Parameter(torchDefaultUniform(rng, [inFeatures, outFeatures], inFeatures), { kind: 'linear' }),
    );
    this.bias =
      options.bias === false
        ? null
        : this.addParameter('bias', new Parameter(torchDefaultUniform(rng, [outFeatures], inFeatures)));
  }

  /** x: [N, in] -> [N, out]. */
  forward(x: tf.Tensor2D): tf.Tensor2D {
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x]) as tf.Tensor2D;
    if (x.shape[1] !== this.inFeatures) {
      throw new Error(`Linear expects ${this.inFeatures} input features, got shape [${x.shape}]`);
    }
    // thop: in_features per output element; the bias is not counted.
    recordMacs(this.inFeatures * numel([x.shape[0], this.outFeatures]));
    return tf.tidy((): tf.Tensor2D => {
      const y = tf.matMul(x, this.weight.value as tf.Tensor2D) as tf.Tensor2D;
      return this.bias ? tf.add<tf.Tensor2D>(y, this.bias.value) : y;
    });
  }
}
