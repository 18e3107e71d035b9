/**
 * Conv2d and Conv1d with PyTorch semantics over NHWC / NWC tensors.
 * Weights are stored [kh, kw, in, out/groups]; see tensor-layout.ts for the PyTorch correspondence.
 */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../util/shape.js';
import { convolveAsMatMul } from './conv-matmul.js';
import { kaimingNormalFanOut, type Rng, torchDefaultUniform } from './init.js';
import { Module, Parameter } from './module.js';
import { activeCounter, recordMacs } from './op-counter.js';
import { liveTaps, windowOutputSize } from './padding.js';
import { activeTracer } from './trace-hook.js';

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
  /** 'kaiming-fan-out' = the official models' init; 'torch-default' = nn.Conv2d's own reset_parameters. */
  init?: 'kaiming-fan-out' | 'torch-default';
}

export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    rng: Rng,
    options: Conv2dOptions = {},
  ) {
    super();
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
    this.groups = options.groups ?? 1;
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new Error(
        `Conv2d: groups ${this.groups} must divide in ${inChannels} and out ${outChannels} channels`,
      );
    }
    if (this.stride > 1 && this.dilation > 1) {
      throw new Error('Conv2d: TensorFlow.js cannot combine stride > 1 with dilation > 1');
    }
    const k = kernelSize;
    const shape = [k, k, inChannels, outChannels / this.groups];
    const fanIn = (inChannels / this.groups) * k * k;
    const weight =
      options.init === 'torch-default'
        ? torchDefaultUniform(rng, shape, fanIn)
        : kaimingNormalFanOut(rng, shape, outChannels * k * k);
    this.weight = this.addParameter('weight', new Parameter(weight, { kind: 'conv2d', groups: this.groups }));
    this.bias = options.bias
      ? this.addParameter('bias', new Parameter(torchDefaultUniform(rng, [outChannels], fanIn)))
      : null;
  }

  /** Output [N, H', W', out] of an NHWC input. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x]) as tf.Tensor4D;
    const [n, h, w, c] = x.shape;
    if (c !== this.inChannels) {
      throw new Error(
        `Conv2d expects ${this.inChannels} input channels, got ${c} (input shape [${x.shape}], NHWC)`,
      );
    }
    const outH = windowOutputSize(h, this.kernelSize, this.stride, this.padding, this.dilation);
    const outW = windowOutputSize(w, this.kernelSize, this.stride, this.padding, this.dilation);
    const outShape: [number, number, number, number] = [n, outH, outW, this.outChannels];
    const counter = activeCounter();
    recordMacs(
      numel(outShape) * ((this.inChannels / this.groups) * this.kernelSize ** 2 + (this.bias ? 1 : 0)),
    );
    if (counter?.shapeOnly) return tf.zeros(outShape);
    return tf.tidy(() => {
      let y = this.convolve(x);
      if (this.bias) y = tf.add(y, this.bias.value);
      return y;
    });
  }

  private convolve(x: tf.Tensor4D): tf.Tensor4D {
    const { weight, pad } = this.effectiveWindow(x.shape[1], x.shape[2]);
    if (this.groups === 1) {
      const product = this.dilation === 1 ? convolveAsMatMul(x, weight, this.stride, pad) : null;
      return product ?? tf.conv2d(x, weight, this.stride, pad, 'NHWC', this.dilation);
    }
    const depthwise = tf.depthwiseConv2d(x, weight, this.stride, pad, 'NHWC', this.dilation);
    const inPerGroup = this.inChannels / this.groups;
    if (inPerGroup === 1) return depthwise;
    // Grouped conv (ResNeXt): tfjs has none. A depthwise conv with multiplier out/groups gives, for every input
    // channel c = g*inPerGroup + i, the partial sums of the out/groups outputs of group g; summing over i
    // completes the grouped convolution with exactly the grouped conv's MACs.
    const [n, h, w] = depthwise.shape;
    const outPerGroup = this.outChannels / this.groups;
    const parts = tf.reshape(depthwise, [n, h, w, this.groups, inPerGroup, outPerGroup]);
    return tf.reshape(tf.sum(parts, 4), [n, h, w, this.outChannels]);
  }

  /**
   * The weight and padding to convolve an h x w map with. Zero padding goes inside the convolution rather than a
   * separate pad: the same zeros, but the backward pass then computes the input gradient of the interior only (for
   * a padded 1x1 map a separate pad would cost 9x the forward). Taps that only ever read padding are cropped from
   * the weight (see liveTaps): the same outputs and gradients (the slice's gradient puts zeros in the cropped
   * taps, as they receive), and on CIFAR-size maps a 3x3 conv of a 1x1 map becomes a 1x1 conv.
   */
  private effectiveWindow(
    h: number,
    w: number,
  ): { weight: tf.Tensor4D; pad: 'valid' | tf.backend_util.ExplicitPadding } {
    const weight = this.weight.value as tf.Tensor4D;
    const p = this.padding;
    if (p === 0) return { weight, pad: 'valid' };
    const k = this.kernelSize;
    const rows = liveTaps(h, k, this.stride, p, this.dilation);
    const cols = liveTaps(w, k, this.stride, p, this.dilation);
    const cropped = rows.count < k || cols.count < k;
    return {
      weight: cropped
        ? tf.slice(weight, [rows.first, cols.first, 0, 0], [rows.count, cols.count, -1, -1])
        : weight,
      pad: [
        [0, 0],
        [rows.padBefore, rows.padAfter],
        [cols.padBefore, cols.padAfter],
        [0, 0],
      ],
    };
  }
}

/** Conv1d over NWC tensors (ECA's channel conv). Weight [k, in, out]. */
export class Conv1d extends Module {
  readonly weight: Parameter;
  readonly padding: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    rng: Rng,
    options: { padding?: number } = {},
  ) {
    super();
    this.padding = options.padding ?? 0;
    const weight = torchDefaultUniform(rng, [kernelSize, inChannels, outChannels], inChannels * kernelSize);
    this.weight = this.addParameter('weight', new Parameter(weight, { kind: 'conv1d' }));
  }

  /** x: [N, L, in] -> [N, L', out]. */
  forward(x: tf.Tensor3D): tf.Tensor3D {
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x]) as tf.Tensor3D;
    const [n, length] = x.shape;
    const outLength = windowOutputSize(length, this.kernelSize, 1, this.padding);
    recordMacs(n * outLength * this.outChannels * this.inChannels * this.kernelSize);
    return tf.tidy(() => {
      const padded =
        this.padding > 0
          ? tf.pad(x, [
              [0, 0],
              [this.padding, this.padding],
              [0, 0],
            ])
          : x;
      return tf.conv1d(padded, this.weight.value as tf.Tensor3D, 1, 'valid');
    });
  }
}
