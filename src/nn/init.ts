/**
 * Weight initialisation with the official PyTorch rules, driven by a seedable PRNG so a model built twice with
 * the same seed is identical on every backend (values are drawn in JS, not by a backend kernel).
 */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../util/shape.js';

/** sfc32: small, fast, good-quality 32-bit PRNG. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;

  constructor(seed: number = Math.floor(Math.random() * 2 ** 32)) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.spareNormal !== null) {
      const value = this.spareNormal;
      this.spareNormal = null;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }

  /** Independent child generator (stable regardless of how many numbers the parent drew later). */
  fork(): Rng {
    return new Rng(this.nextUint32());
  }

  /** Current state, for checkpoints that resume exactly. */
  getState(): number[] {
    return [this.a, this.b, this.c, this.d];
  }

  setState(state: readonly number[]): void {
    [this.a, this.b, this.c, this.d] = state.map((x) => x | 0);
    this.spareNormal = null;
  }
}

export function normalTensor(rng: Rng, shape: number[], std: number, mean = 0): tf.Tensor {
  const values = new Float32Array(numel(shape));
  for (let i = 0; i < values.length; i++) values[i] = mean + std * rng.normal();
  return tf.tensor(values, shape, 'float32');
}

export function uniformTensor(rng: Rng, shape: number[], low: number, high: number): tf.Tensor {
  const values = new Float32Array(numel(shape));
  for (let i = 0; i < values.length; i++) values[i] = low + (high - low) * rng.uniform();
  return tf.tensor(values, shape, 'float32');
}

export function constantTensor(shape: number[], value: number): tf.Tensor {
  return tf.fill(shape, value, 'float32');
}

/** nn.init.kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = sqrt(2 / fan_out). */
export function kaimingNormalFanOut(rng: Rng, shape: number[], fanOut: number): tf.Tensor {
  return normalTensor(rng, shape, Math.sqrt(2 / fanOut));
}

/**
 * PyTorch's default init of Conv and Linear weights, kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 * Biases use the same bound.
 */
export function torchDefaultUniform(rng: Rng, shape: number[], fanIn: number): tf.Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniformTensor(rng, shape, -bound, bound);
}
