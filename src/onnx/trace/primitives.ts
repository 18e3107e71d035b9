/**
 * How each primitive layer is written into a traced graph, with the emitters of ../nn.ts. A conv is recorded
 * but written only when used, so that a BatchNorm right after it folds into its weights in inference graphs
 * that fold BN (a conv whose raw output is also used elsewhere is written unfolded as well, so nothing is lost).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DenseBlock, type DenseLayer, type DensePointwiseCall } from '../../layers/cifar/dense-block.js';
import { Dropout } from '../../layers/dropout.js';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv1d, Conv2d } from '../../nn/conv.js';
import { GroupNorm } from '../../nn/groupnorm.js';
import { Linear } from '../../nn/linear.js';
import type { Module } from '../../nn/module.js';
import { windowOutputSize } from '../../nn/padding.js';
import { AvgPool2d, GlobalAvgPool2d, MaxPool2d } from '../../nn/pool.js';
import { toTorchLayout } from '../../nn/tensor-layout.js';
import {
  avgPool,
  batchNorm,
  type ConvWeightOverride,
  concatChannels,
  conv1d,
  conv2d,
  convWeight,
  globalAvgPool,
  groupNorm,
  linear,
  maxPool,
} from '../nn.js';
import { dropout } from '../training-layers.js';
import type { GraphTracer, PrimitiveWriter, Sym } from './tracer.js';

type Writer<M extends Module> = (t: GraphTracer, module: M, x: Sym, detail: unknown) => Sym;

/** An image-shaped result [N, H', W', C] of a window op on x. */
function windowed(
  x: Sym,
  channels: number,
  kernel: number,
  stride: number,
  padding: number,
  dilation = 1,
): number[] {
  const [n, h, w] = x.shape;
  return [
    n,
    windowOutputSize(h, kernel, stride, padding, dilation),
    windowOutputSize(w, kernel, stride, padding, dilation),
    channels,
  ];
}

const writeConv2d: Writer<Conv2d> = (t, conv, x) => ({
  shape: windowed(x, conv.outChannels, conv.kernelSize, conv.stride, conv.padding, conv.dilation),
  layout: 'nchw',
  value: null,
  pending: { input: t.value(x, 'nchw'), conv, override: null },
});

const writeBatchNorm: Writer<BatchNorm2d> = (t, bn, x) => {
  if (x.pending && t.b.options.foldBatchNorm && !t.b.training) {
    const { input, conv, override } = x.pending;
    return { shape: x.shape, layout: 'nchw', value: conv2d(t.b, input, conv, bn, override) };
  }
  // The channel axis is axis 1 of every stored layout BatchNormalization accepts (NCHW, NCW, [N, C]).
  return { shape: x.shape, layout: x.layout, value: batchNorm(t.b, t.value(x, x.layout), bn) };
};

const writeLinear: Writer<Linear> = (t, layer, x) =>
  t.sym(linear(t.b, t.value(x, 'plain'), layer), [x.shape[0], layer.outFeatures]);

const writeConv1d: Writer<Conv1d> = (t, conv, x) => ({
  shape: [x.shape[0], windowOutputSize(x.shape[1], conv.kernelSize, 1, conv.padding), conv.outChannels],
  layout: 'ncw',
  value: conv1d(t.b, t.value(x, 'ncw'), conv),
});

const writeGroupNorm: Writer<GroupNorm> = (t, norm, x) => ({
  shape: x.shape,
  layout: 'nchw',
  value: groupNorm(t.b, t.value(x, 'nchw'), norm),
});

const writeMaxPool: Writer<MaxPool2d> = (t, pool, x) => ({
  shape: windowed(x, x.shape[3], pool.kernelSize, pool.stride, pool.padding),
  layout: 'nchw',
  value: maxPool(t.b, t.value(x, 'nchw'), pool),
});

const writeAvgPool: Writer<AvgPool2d> = (t, pool, x) => ({
  shape: windowed(x, x.shape[3], pool.kernelSize, pool.stride, 0),
  layout: 'nchw',
  value: avgPool(t.b, t.value(x, 'nchw'), pool),
});

const writeGlobalAvgPool: Writer<GlobalAvgPool2d> = (t, _pool, x) => ({
  shape: [x.shape[0], 1, 1, x.shape[3]],
  layout: 'nchw',
  value: globalAvgPool(t.b, t.value(x, 'nchw')),
});

/** The identity in inference graphs; in training graphs a product with a mask drawn per step ([N, F] only). */
const writeDropout: Writer<Dropout> = (t, module, x) => {
  if (!t.b.training || module.rate === 0) return x;
  if (x.shape.length !== 2) throw new Error(`a traced Dropout takes [N, features], got [${x.shape}]`);
  return t.sym(dropout(t.b, t.value(x, 'plain'), module, x.shape[1]), x.shape);
};

/** Layer t's 1x1 weight over the concatenation, assembled from its per-source weights (shared variants). */
function assembledWeight(block: DenseBlock, layer: DenseLayer, t: number): ConvWeightOverride {
  const shared = block.sharedConvs;
  if (!shared) throw new Error('a DenseBlock without shared convs has no assembled weight');
  const { inChannels, growthRate, sharing } = block.config;
  // Source l >= 1 uses the weight of its lag t - l (index) or of its ordinal l - 1, as DenseBlock does.
  const sources = [layer.conv1];
  for (let l = 1; l <= t; l++) sources.push(shared.at(sharing === 'lag' ? t - l : l - 1));
  return {
    inChannels: inChannels + t * growthRate,
    key: 'assembled',
    // Training graphs concatenate the parameters themselves (OIHW: inputs on axis 1), so each gets its gradient.
    build: (b) =>
      concatChannels(
        b,
        sources.map((conv) => convWeight(b, conv)),
      ),
    weight: () =>
      tf.tidy(() => {
        const hwio = tf.concat(
          sources.map((conv) => conv.weight.value),
          2,
        );
        const torch = toTorchLayout(hwio, { kind: 'conv2d', groups: 1 });
        return Float32Array.from(torch.dataSync() as Float32Array);
      }),
  };
}

/** DenseBlock's assembled 1x1 conv of one layer (the block hands the call over; see DenseBlock.pointwise). */
const writeDensePointwise: Writer<DenseBlock> = (t, block, x, detail) => {
  const { layer: index } = detail as DensePointwiseCall;
  const layer = block.layers.at(index);
  return {
    shape: [...x.shape.slice(0, 3), block.config.bottleneckWidth],
    layout: 'nchw',
    value: null,
    pending: { input: t.value(x, 'nchw'), conv: layer.conv1, override: assembledWeight(block, layer, index) },
  };
};

function entry<M extends Module>(
  type: abstract new (...args: never[]) => M,
  write: Writer<M>,
): [LayerClass, PrimitiveWriter] {
  return [type, (t, module, inputs, detail) => write(t, module as M, inputs[0], detail)];
}

type LayerClass = abstract new (...args: never[]) => Module;

/** Every primitive layer class and its writer. */
export const PRIMITIVE_WRITERS = new Map<LayerClass, PrimitiveWriter>([
  entry(Conv2d, writeConv2d),
  entry(BatchNorm2d, writeBatchNorm),
  entry(Linear, writeLinear),
  entry(Conv1d, writeConv1d),
  entry(GroupNorm, writeGroupNorm),
  entry(MaxPool2d, writeMaxPool),
  entry(AvgPool2d, writeAvgPool),
  entry(GlobalAvgPool2d, writeGlobalAvgPool),
  entry(Dropout, writeDropout),
  entry(DenseBlock, writeDensePointwise),
]);

/**
 * Teaches the tracer a new primitive layer: a layer whose `forward` starts with
 * `const tracer = activeTracer(); if (tracer) return tracer.call(this, [x]);` is written by `writer`.
 */
export function registerPrimitiveWriter(type: LayerClass, writer: PrimitiveWriter): void {
  PRIMITIVE_WRITERS.set(type, writer);
}
