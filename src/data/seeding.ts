/**
 * Deterministic randomness for data pipelines. Every random decision about a sample (crop offsets, flips) comes
 * from a generator seeded by (run seed, epoch, sample index) alone, so the augmentation of a sample does not depend
 * on batch order, prefetch depth, the number of decode workers, or where a run was interrupted and resumed.
 */
import { Rng } from '../nn/init.js';

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function mix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A 32-bit seed derived from several integers (order matters). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x6a09e667;
  for (const part of parts) h = mix32(h ^ mix32((part >>> 0) + 0x9e3779b9));
  return h >>> 0;
}

/** The generator for the random transforms of sample `index` in `epoch`. */
export function sampleRng(seed: number, epoch: number, index: number): Rng {
  return new Rng(deriveSeed(seed, epoch, index));
}

/** Uniform integer in [low, high] (both inclusive), like `torch.randint(low, high + 1)`. */
export function randomInt(rng: Rng, low: number, high: number): number {
  return low + Math.floor(rng.uniform() * (high - low + 1));
}

/** A random permutation of 0..n-1 (Fisher-Yates), like `torch.randperm(n)` in distribution. */
export function permutation(n: number, rng: Rng): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
