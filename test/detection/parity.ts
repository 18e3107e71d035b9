/** Parity assertions of the detection tests: tensors within 1e-4 * max|ref|, detections equal. */
import assert from 'node:assert/strict';
import type { RawImage } from '../../src/data/image.js';
import type { DetectorOutput, RLADetector } from '../../src/detection/detector.js';
import type { BinaryMask } from '../../src/detection/types.js';
import { maxAbs, maxAbsDiff } from '../helpers/tensors.js';
import { type ReferenceTensor, unpackMask } from './fixtures.js';

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
  const actual = Array.prototype.slice.call(data, 0, ref.data.length) as number[];
  const scale = Math.max(maxAbs(ref.data), 1e-12);
  if (name === 'rpn.proposals') {
    assert.equal(shape[0], ref.shape[0], 'proposal count');
    assertProposalsMatch(actual, ref, 1e-4 * scale);
    return;
  }
  const diff = maxAbsDiff(actual, ref.data);
  assert.ok(
    diff <= 1e-4 * scale,
    `${name}: max abs diff ${diff.toExponential(3)} > 1e-4 * ${scale.toExponential(3)}`,
  );
}

/** Score gap under which two proposals count as tied: their order then depends on float rounding. */
const PROPOSAL_TIE = 1e-5;

/**
 * Proposals ([x1, y1, x2, y2, score] rows, by descending score) within `tolerance`, where rows of tied scores
 * may come in either order: a sort of equal scores follows the last bits of the convolutions, which differ
 * between CPUs (MLAS picks its kernels per microarchitecture). Each run of tied reference rows must be matched
 * one to one by the actual rows at the same positions.
 */
function assertProposalsMatch(actual: number[], ref: ReferenceTensor, tolerance: number): void {
  const width = ref.shape[1];
  const rows = ref.shape[0];
  const row = (values: ArrayLike<number>, i: number) =>
    Array.prototype.slice.call(values, i * width, i * width + width) as number[];
  const close = (a: number[], b: number[]) => a.every((v, k) => Math.abs(v - b[k]) <= tolerance);
  for (let start = 0; start < rows; ) {
    let end = start + 1;
    const score = (i: number) => ref.data[i * width + width - 1];
    while (end < rows && Math.abs(score(end) - score(end - 1)) <= PROPOSAL_TIE) end++;
    const unmatched = new Set(Array.from({ length: end - start }, (_, k) => start + k));
    for (let i = start; i < end; i++) {
      const mine = row(actual, i);
      const match = [...unmatched].find((j) => close(mine, row(ref.data, j)));
      assert.ok(
        match !== undefined,
        `rpn.proposals #${i}: [${mine}] matches no reference row ${start}..${end - 1} within ${tolerance.toExponential(3)}`,
      );
      unmatched.delete(match);
    }
    start = end;
  }
}

/**
 * Runs `detector` on `image` and checks every intermediate the reference stores for it (`<prefix>.<name>`) with
 * `assertTensorParity`; each name of `mustCompare` must have been among them.
 */
export async function assertIntermediatesMatch(
  detector: RLADetector,
  image: RawImage,
  reference: Map<string, ReferenceTensor>,
  prefix: string,
  mustCompare: readonly string[],
): Promise<void> {
  const seen = new Set<string>();
  await detector.run(image, (name, data, shape) => {
    const ref = reference.get(`${prefix}.${name}`);
    if (!ref) return;
    seen.add(name);
    assertTensorParity(name, data, shape, ref);
  });
  assert.deepEqual(
    mustCompare.filter((name) => !seen.has(name)),
    [],
    'intermediates not compared',
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

/**
 * Every pasted mask equals the reference (bit-packed rows) except at pixels whose reference probability lies within
 * 1e-5 of the threshold (`ambiguous` rows [instance, pixel]), where float32 noise may flip the decision; returns
 * the smallest per-instance IoU.
 */
export function assertMasksMatch(
  what: string,
  masks: BinaryMask[],
  packed: ReferenceTensor,
  ambiguous: ReferenceTensor,
  [height, width]: [number, number],
): number {
  assert.equal(masks.length, packed.shape[0], `${what}: mask count`);
  const tolerated = new Set<string>();
  for (let r = 0; r < ambiguous.shape[0]; r++)
    tolerated.add(`${ambiguous.data[2 * r]}:${ambiguous.data[2 * r + 1]}`);
  const rowBytes = packed.shape[1];
  let smallestIou = 1;
  masks.forEach((mask, i) => {
    assert.deepEqual([mask.height, mask.width], [height, width], `${what} mask #${i}: size`);
    const expected = unpackMask(packed.bytes.subarray(i * rowBytes, (i + 1) * rowBytes), height * width);
    let intersection = 0;
    let union = 0;
    for (let p = 0; p < expected.length; p++) {
      if (mask.data[p] !== expected[p]) {
        assert.ok(
          tolerated.has(`${i}:${p}`),
          `${what} mask #${i}: pixel ${p} differs and is not near the threshold`,
        );
      }
      intersection += mask.data[p] & expected[p];
      union += mask.data[p] | expected[p];
    }
    smallestIou = Math.min(smallestIou, union === 0 ? 1 : intersection / union);
  });
  return smallestIou;
}
