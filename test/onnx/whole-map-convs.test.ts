/**
 * The training graph's rewrite of convolutions on small maps into products over the batch
 * (src/onnx/training/whole-map-convs.ts): the rewritten graph computes the same outputs and, through the
 * differentiator, the same gradients as the convolutions it replaces (whose rule is checked against finite
 * differences in gradient-rules.test.ts); it rewrites exactly the convs within its limits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ints } from '../../src/onnx/builder.js';
import {
  rewriteSingleTapConvs,
  rewriteWholeMapConvs,
  type WholeMapLimits,
} from '../../src/onnx/training/whole-map-convs.js';
import { assertSameFunction, type ConvCase, runConvs } from './_conv-rewrite.js';

const INPUTS: Record<string, number[]> = {
  x1: [4, 6, 2, 2], // 3x3 pad 1 on a 2x2 map (every pixel pair connected: no waste), with bias
  w1: [5, 6, 3, 3],
  b1: [5],
  x2: [4, 3, 3, 3], // 3x3 stride 2 pad 1 on 3x3 -> 2x2 (16 of 36 pairs connected: waste 2.25)
  w2: [4, 3, 3, 3],
  x3: [4, 6, 2, 2], // 1x1 on a 2x2 map (4 of 16 pairs: waste 4)
  w3: [5, 6, 1, 1],
  x4: [4, 6, 2, 2], // 3x3 pad 1 stride 2 on 2x2 -> 1x1: one tap (the single-tap rewrite's case)
  w4: [5, 6, 3, 3],
};

const pad1 = { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) };
const CONVS: ConvCase[] = [
  { inputs: ['x1', 'w1', 'b1'], attributes: pad1 },
  { inputs: ['x2', 'w2'], attributes: { ...pad1, strides: ints([2, 2]) } },
  { inputs: ['x3', 'w3'], attributes: { kernel_shape: ints([1, 1]) } },
  { inputs: ['x4', 'w4'], attributes: { ...pad1, strides: ints([2, 2]) } },
];

const run = (limits: WholeMapLimits | null) =>
  runConvs(
    INPUTS,
    CONVS,
    limits && ((b, shapes) => rewriteSingleTapConvs(b, shapes) + rewriteWholeMapConvs(b, shapes, limits)),
  );

describe('whole-map convolutions (training graph rewrite)', () => {
  it('computes the convolutions and their gradients; rewrites only within the limits', async () => {
    const reference = await run(null);
    assert.equal(reference.opTypes.filter((op) => op === 'Conv').length, 4);
    // Waste limit 3: the 2x2 3x3 conv and the strided one are rewritten, the 1x1 (waste 4) is not; the
    // single-tap conv goes to the single-tap rewrite.
    const rewritten = await run({ maxOutputPixels: 4, maxWaste: 3 });
    assert.equal(rewritten.rewritten, 3);
    assert.equal(rewritten.opTypes.filter((op) => op === 'Conv').length, 1, 'only the 1x1 conv stays a Conv');
    assertSameFunction(reference, rewritten, INPUTS);
    // Waste limit 1 keeps the strided conv too; a 1-pixel output limit keeps every whole-map candidate.
    const strict = await run({ maxOutputPixels: 4, maxWaste: 1 });
    assert.equal(strict.opTypes.filter((op) => op === 'Conv').length, 2);
    const tiny = await run({ maxOutputPixels: 1, maxWaste: 10 });
    assert.equal(tiny.opTypes.filter((op) => op === 'Conv').length, 3);
  });
});
