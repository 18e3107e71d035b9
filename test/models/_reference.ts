/**
 * Helpers of the model parity tests (not a test file): reading reference files with their metadata from any
 * fixture folder, and comparing a model's NHWC intermediates with NCHW references at the tolerances of the
 * fixtures' README. Layout conversion is test/helpers/fixtures.ts's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, safetensorToFloat32Array } from '../../src/weights/safetensors.js';
import { type FixtureTensor, toNchwData } from '../helpers/fixtures.js';
import { maxAbs, maxAbsDiff } from '../helpers/tensors.js';

export interface ReferenceFile {
  /** Every tensor, as float32, in file order. */
  tensors: Map<string, FixtureTensor>;
  metadata: Record<string, string>;
}

/** Reads a safetensors file of reference tensors. */
export function readReferenceFile(path: string): ReferenceFile {
  const bytes = readFileSync(path);
  const file = readSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const tensors = new Map<string, FixtureTensor>();
  for (const [name, tensor] of file.tensors) {
    tensors.set(name, { shape: [...tensor.shape], data: safetensorToFloat32Array(tensor) });
  }
  return { tensors, metadata: file.metadata };
}

export interface Difference {
  name: string;
  maxAbsDiff: number;
  /** max |reference| */
  scale: number;
}

/**
 * Asserts every reference tensor but `input` against the model's output of the same name: logits within
 * `1e-4 * max(1, max|ref|)`, intermediates within `1e-3 * max|ref|` (the fixtures' README). Returns the differences.
 */
export function assertMatchesReference(
  outputs: Record<string, tf.Tensor>,
  reference: Map<string, FixtureTensor>,
  what: string,
  prefix = '',
): Difference[] {
  const differences: Difference[] = [];
  for (const [fullName, ref] of reference) {
    if (!fullName.startsWith(prefix)) continue;
    const name = fullName.slice(prefix.length);
    if (name === 'input') continue;
    const actual = outputs[name];
    assert.ok(actual, `${what}: the model reports no ${name}`);
    assert.deepEqual(
      actual.rank === 4 ? [actual.shape[0], actual.shape[3], actual.shape[1], actual.shape[2]] : actual.shape,
      ref.shape,
      `${what}: ${name} shape`,
    );
    const relative = name === 'logits' ? 1e-4 : 1e-3;
    differences.push(assertClose(name, toNchwData(actual), ref.data, relative, name === 'logits', what));
  }
  return differences;
}

/**
 * Asserts max|actual - ref| <= relative * max|ref| (or * max(1, max|ref|) when `atLeastOne`), and returns the
 * difference.
 */
export function assertClose(
  name: string,
  actual: ArrayLike<number>,
  ref: ArrayLike<number>,
  relative: number,
  atLeastOne: boolean,
  what: string,
): Difference {
  const diff = maxAbsDiff(actual, ref);
  const scale = maxAbs(ref);
  const tolerance = relative * (atLeastOne ? Math.max(1, scale) : scale);
  assert.ok(
    diff <= tolerance,
    `${what}: ${name} max abs diff ${diff.toExponential(3)} > ${tolerance.toExponential(3)} (max|ref| ${scale.toPrecision(3)})`,
  );
  return { name, maxAbsDiff: diff, scale };
}

/** One line per tensor for test diagnostics. */
export function describeDifferences(differences: Difference[]): string {
  return differences
    .map((d) => `${d.name} ${d.maxAbsDiff.toExponential(2)} (scale ${d.scale.toPrecision(3)})`)
    .join('; ');
}
