/**
 * Fills a model with the deterministic weights of test/fixtures/ablations/make_reference.py (not a test file):
 * every tensor's values come from a counter-based hash of its official state_dict key, so reference outputs of
 * the official classes can be checked without storing megabytes of weights. Must mirror the Python exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../../src/nn/module.js';
import { fromTorchLayout, torchShapeOf } from '../../src/nn/tensor-layout.js';

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

/** u_i in [0, 1): a murmur3-style finalizer of (hash(key) ^ i * golden), exact in uint32 arithmetic. */
function uniform(seed: number, i: number): number {
  let x = (seed ^ Math.imul(i, 0x9e3779b9)) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return x / 4294967296;
}

/** The first `count` uniforms of `key`, mapped by `rule` (computed in float64, rounded once to float32). */
export function deterministicArray(key: string, count: number, rule: (u: number) => number): Float32Array {
  const seed = fnv1a(key);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rule(uniform(seed, i));
  return out;
}

/** The Python's value rule for one state_dict entry, chosen by key and torch shape. */
function valueRule(key: string, torchShape: readonly number[]): (u: number) => number {
  if (key.endsWith('running_var')) return (u) => 0.5 + u;
  if (key.endsWith('running_mean')) return (u) => 0.2 * (u - 0.5);
  if (torchShape.length >= 2) {
    const bound = Math.sqrt(6.0 / torchShape.slice(1).reduce((a, b) => a * b, 1));
    return (u) => bound * (2.0 * u - 1.0);
  }
  if (key.endsWith('weight')) return (u) => 0.6 + 0.8 * u;
  return (u) => 0.2 * (u - 0.5);
}

/** The deterministic values of one state_dict entry (torch shape). */
export function deterministicValues(key: string, torchShape: readonly number[]): Float32Array {
  const count = torchShape.reduce((a, b) => a * b, 1);
  return deterministicArray(key, count, valueRule(key, torchShape));
}

/** Loads the deterministic weights into `model` (each tied tensor once, by its first key). */
export function loadDeterministicWeights(model: Module): void {
  const seen = new Set<unknown>();
  const state = new Map<string, tf.Tensor>();
  for (const entry of model.stateEntries()) {
    if (seen.has(entry.owner) || entry.key.endsWith('num_batches_tracked')) continue;
    seen.add(entry.owner);
    const shape = torchShapeOf(entry.tensor.shape, entry.layout);
    state.set(
      entry.key,
      tf.tidy(() => fromTorchLayout(tf.tensor(deterministicValues(entry.key, shape), shape), entry.layout)),
    );
  }
  try {
    model.loadStateDict(state, { strict: false });
  } finally {
    tf.dispose([...state.values()]);
  }
}
