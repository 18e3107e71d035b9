/**
 * Dropout with PyTorch semantics: in training mode each element is zeroed with probability `rate` and the rest
 * scaled by 1/(1 - rate); in eval mode the identity. Masks come from a seeded generator, so a model built with
 * a seed trains reproducibly; each call draws a fresh mask. No state; thop counts 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { activeTracer } from '../nn/trace-hook.js';

export class Dropout extends Module {
  constructor(
    readonly rate: number,
    private readonly rng: Rng,
  ) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new Error(`Dropout rate must be in [0, 1), got ${rate}`);
  }

  forward<T extends tf.Tensor>(x: T): T {
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x]) as T;
    if (!this.training || this.rate === 0) return x;
    return tf.dropout(x, this.rate, undefined, this.rng.nextUint32()) as T;
  }

  /**
   * The next mask `forward` would apply to a tensor of `shape` (0 or 1/(1 - rate) per element), drawn from the
   * same generator: a graph that multiplies by it trains exactly like this module. Advances the generator.
   */
  drawMask(shape: number[]): Float32Array {
    return tf.tidy(() => {
      const mask = tf.dropout(tf.ones(shape), this.rate, undefined, this.rng.nextUint32());
      return Float32Array.from(mask.dataSync() as Float32Array);
    });
  }
}
