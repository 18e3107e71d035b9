/**
 * mmdetection's `FCNMaskHead` (Mask R-CNN): `numConvs` 3x3 conv + ReLU on the 14x14 RoI features, a 2x2 stride-2
 * transposed conv (`upsample`) + ReLU to 28x28, and a 1x1 `conv_logits` with one mask per class.
 * Keys: `convs.i.conv.*`, `upsample.weight` [in, out, 2, 2] (PyTorch's ConvTranspose2d layout), `conv_logits`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d } from '../nn/conv.js';
import { type Rng, torchDefaultUniform } from '../nn/init.js';
import { Module, ModuleList, Parameter } from '../nn/module.js';
import { activeTracer } from '../nn/trace-hook.js';
import { ConvModule } from './conv-module.js';

/** ConvTranspose2d with kernel 2, stride 2 (no overlap: every input pixel paints its own 2x2 output block). */
export class ConvTranspose2x2 extends Module {
  /** PyTorch layout [in, out, 2, 2], kept as is (no transpose on import). */
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    rng: Rng,
  ) {
    super();
    const fanIn = outChannels * 4;
    this.weight = this.addParameter(
      'weight',
      new Parameter(torchDefaultUniform(rng, [inChannels, outChannels, 2, 2], fanIn)),
    );
    this.bias = this.addParameter('bias', new Parameter(torchDefaultUniform(rng, [outChannels], fanIn)));
  }

  /** [N, H, W, in] -> [N, 2H, 2W, out]. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    // A graph trace (src/onnx/trace) writes this layer as one ConvTranspose (see roi-graphs.ts).
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x]) as tf.Tensor4D;
    return tf.tidy(() => {
      const [n, h, w, c] = x.shape;
      const o = this.outChannels;
      // [in, out, a, b] -> [in, a, b, out]: one matmul gives every (a, b) tap of each pixel.
      const kernel = tf.reshape(tf.transpose(this.weight.value, [0, 2, 3, 1]), [c, 4 * o]);
      const taps = tf.reshape(tf.matMul(tf.reshape(x, [n * h * w, c]), kernel), [n, h, w, 2, 2, o]);
      const image = tf.reshape(tf.transpose(taps, [0, 1, 3, 2, 4, 5]), [n, 2 * h, 2 * w, o]);
      return tf.add(image, this.bias.value) as tf.Tensor4D;
    });
  }
}

export class FCNMaskHead extends Module {
  readonly convs: ModuleList<ConvModule>;
  readonly upsample: ConvTranspose2x2;
  readonly conv_logits: Conv2d;

  constructor(
    inChannels: number,
    numConvs: number,
    convOutChannels: number,
    readonly numClasses: number,
    rng: Rng,
  ) {
    super();
    this.convs = this.addModule(
      'convs',
      new ModuleList(
        Array.from(
          { length: numConvs },
          (_, i) =>
            new ConvModule(i === 0 ? inChannels : convOutChannels, convOutChannels, 3, rng, {
              padding: 1,
              relu: true,
            }),
        ),
      ),
    );
    this.upsample = this.addModule('upsample', new ConvTranspose2x2(convOutChannels, convOutChannels, rng));
    this.conv_logits = this.addModule(
      'conv_logits',
      new Conv2d(convOutChannels, numClasses, 1, rng, { bias: true }),
    );
  }

  /** RoI features [n, 14, 14, C] -> mask logits [n, 28, 28, classes] (NHWC). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let y = x;
      for (const conv of this.convs) y = conv.forward(y);
      return this.conv_logits.forward(tf.relu(this.upsample.forward(y)));
    });
  }
}
