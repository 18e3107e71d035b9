/** Small assertions on tensors used across the test suite. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';

/** Runs `fn` and asserts it leaves no tensor behind (tf.memory().numTensors before == after). */
export async function assertNoLeak<T>(fn: () => T | Promise<T>, what = 'call'): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  assert.equal(after, before, `${what} leaked ${after - before} tensor(s)`);
  return result;
}

/** max |a - b| over two equally shaped arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  return max;
}

/** Asserts max|actual - expected| <= tolerance, with a message that shows both numbers. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
  what: string,
): void {
  const diff = maxAbsDiff(actual, expected);
  assert.ok(
    diff <= tolerance,
    `${what}: max abs diff ${diff.toExponential(3)} > tolerance ${tolerance.toExponential(3)}`,
  );
}
