/** Pooling layers with PyTorch semantics over NHWC tensors. */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../util/shape.js';
import { Module } from './module.js';
import { recordMacs } from './op-counter.js';
import { padSpatial, windowOutputSize } from './padding.js';
import { activeTracer } from './trace-hook.js';

/** MaxPool2d: padded positions never win (PyTorch pads with -inf). thop counts 0. */
export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride: number = kernelSize,
    readonly padding = 0,
  ) {
    super();
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x]) as tf.Tensor4D;
    return tf.tidy(() =>
      tf.maxPool(
        padSpatial(x, this.padding, Number.NEGATIVE_INFINITY),
        this.kernelSize,
        this.stride,
        'valid',
      ),
    );
  }
}

/** AvgPool2d without padding (floor mode). thop counts 1 op per output element. */
export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride: number = kernelSize,
  ) {
    super();
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x]) as tf.Tensor4D;
    const [n, h, w, c] = x.shape;
    const outH = windowOutputSize(h, this.kernelSize, this.stride, 0);
    const outW = windowOutputSize(w, this.kernelSize, this.stride, 0);
    recordMacs(n * outH * outW * c);
    return tf.avgPool(x, this.kernelSize, this.stride, 'valid');
  }
}

/** AdaptiveAvgPool2d(1): global average over H and W, kept as [N, 1, 1, C]. thop: (H*W + 1) per output. */
export class GlobalAvgPool2d extends Module {
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x]) as tf.Tensor4D;
    const [n, h, w, c] = x.shape;
    recordMacs((h * w + 1) * numel([n, c]));
    return tf.mean(x, [1, 2], true);
  }
}
