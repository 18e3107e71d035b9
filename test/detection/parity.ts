/** Parity assertions of the detection tests: tensors within 1e-4 * max|ref|, detections equal. */
import assert from 'node:assert/strict';
import type { DetectorOutput } from '../../src/detection/detector.js';
import { maxAbs, maxAbsDiff } from '../helpers/tensors.js';
import type { ReferenceTensor } from './fixtures.js';

/** Compares the first rows of `data` with a reference that may hold only a prefix of the rows. */
export function assertTensorParity(
  name: string,
  data: ArrayLike<number>,
  shape: number[],
  ref: ReferenceTensor,
): void {
  assert.deepEqual(
    shape.slice(1),
    ref.shape.slice(1),
    `${name}: shape [${shape}] vs reference [${ref.shape}]`,
  );
  assert.ok(shape[0] >= ref.shape[0], `${name}: ${shape[0]} rows, reference has ${ref.shape[0]}`);
  if (name === 'rpn.proposals') assert.equal(shape[0], ref.shape[0], 'proposal count');
  const actual = Array.prototype.slice.call(data, 0, ref.data.length) as number[];
  const scale = Math.max(maxAbs(ref.data), 1e-12);
  const diff = maxAbsDiff(actual, ref.data);
  assert.ok(
    diff <= 1e-4 * scale,
    `${name}: max abs diff ${diff.toExponential(3)} > 1e-4 * ${scale.toExponential(3)}`,
  );
}

/** Same count, boxes within 1e-3 px, scores within 1e-5, equal labels. */
export function assertDetectionsEqual(
  what: string,
  output: DetectorOutput,
  dets: ReferenceTensor,
  labels: ReferenceTensor,
): void {
  const n = dets.shape[0];
  assert.equal(output.scores.length, n, `${what}: detection count`);
  for (let i = 0; i < n; i++) {
    const ref = dets.data.subarray(5 * i, 5 * i + 5);
    const box = output.boxes.subarray(4 * i, 4 * i + 4);
    assert.ok(
      maxAbsDiff(box, ref.subarray(0, 4)) <= 1e-3,
      `${what} #${i}: box [${box}] vs [${ref.subarray(0, 4)}]`,
    );
    assert.ok(
      Math.abs(output.scores[i] - ref[4]) <= 1e-5,
      `${what} #${i}: score ${output.scores[i]} vs ${ref[4]}`,
    );
    assert.equal(output.labels[i], labels.data[i], `${what} #${i}: label`);
  }
}
