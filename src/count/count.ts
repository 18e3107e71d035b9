/**
 * Parameter and MAC counting with the rules behind the paper's "Params / FLOPs" columns
 * (thop 0.0.31 via the official `paras_flops.py`; see docs/counting.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ClassifierModel } from '../models/classifier.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Conv1d, Conv2d } from '../nn/conv.js';
import { Linear } from '../nn/linear.js';
import type { Module } from '../nn/module.js';
import { withCounter } from '../nn/op-counter.js';
import { numel } from '../util/shape.js';

/** Unique trainable parameters; a tied parameter (several state_dict keys, one tensor) counts once. */
export function countParams(model: Module): number {
  return model.parameters().reduce((sum, parameter) => sum + numel(parameter.shape), 0);
}

/** The parameterised layers thop 0.0.31 has a rule for (GroupNorm, for one, has none). */
const THOP_COUNTED_LAYERS = [Conv1d, Conv2d, BatchNorm2d, Linear] as const;

/**
 * thop 0.0.31's parameter total: the parameters of the modules it has a rule for, each module once (it reads
 * them in forward hooks; every module of these models runs). Equals `countParams` except where a parameterised
 * layer has no rule: the ConvGRU ablation's GroupNorms.
 */
export function countThopParams(model: Module): number {
  let total = 0;
  for (const [, module] of model.namedModules()) {
    if (!THOP_COUNTED_LAYERS.some((layer) => module instanceof layer)) continue;
    total += module.parameters().reduce((sum, parameter) => sum + numel(parameter.shape), 0);
  }
  return total;
}

/**
 * Multiply-accumulates of one forward pass on an NHWC `inputShape` (default [1, 224, 224, 3]) under thop 0.0.31's
 * rules: convs out*(in/groups*k*k), BN 2 per input element, Linear in per output, AvgPool 1 per output,
 * AdaptiveAvgPool (H*W+1) per output, everything else 0. Shapes only: no convolution is computed.
 */
export function countMacs(
  model: ClassifierModel,
  inputShape: [number, number, number, number] = [1, 224, 224, 3],
): number {
  const counter = { macs: 0, shapeOnly: true };
  const wasTraining = model.training;
  // thop profiles in whatever mode the model is in; eval avoids touching BN running statistics.
  model.eval();
  try {
    withCounter(counter, () => {
      tf.tidy(() => {
        model.forward(tf.zeros(inputShape) as tf.Tensor4D);
      });
    });
  } finally {
    model.train(wasTraining);
  }
  return counter.macs;
}

/** The official `clever_format` with "%.2f": 1024-based units, e.g. 25870696 -> "24.67M", 4477903584 -> "4.17G". */
export function paperFormat(value: number): string {
  const units: Array<[number, number, string]> = [
    [1e12, 1024 ** 4, 'T'],
    [1e9, 1024 ** 3, 'G'],
    [1e6, 1024 ** 2, 'M'],
    [1e3, 1024, 'K'],
  ];
  for (const [threshold, divisor, suffix] of units) {
    if (value > threshold) return `${(value / divisor).toFixed(2)}${suffix}`;
  }
  return `${value.toFixed(2)}B`;
}
