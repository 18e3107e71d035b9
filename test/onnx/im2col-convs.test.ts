/**
 * The training graph's rewrite of convolutions on small maps into one im2col and one product over the
 * batch (src/onnx/training/im2col-convs.ts): the rewritten graph computes the same outputs and the same
 * gradients as the convolutions it replaces (stride 1: the rewrite's closed-form backward; strided: through the
 * differentiator's Transpose, Pad, strided Slice, Concat, Reshape and Gemm rules); it rewrites exactly the convs
 * within its limits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ints } from '../../src/onnx/builder.js';
import { type Im2colLimits, rewriteIm2colConvs } from '../../src/onnx/training/im2col-convs.js';
import { assertSameFunction, type ConvCase, runConvs } from './_conv-rewrite.js';

const INPUTS: Record<string, number[]> = {
  x1: [4, 5, 4, 4], // 3x3 pad 1 on 4x4 (16 output pixels), with bias
  w1: [6, 5, 3, 3],
  b1: [6],
  x2: [4, 3, 4, 5], // 2x3 kernel, uneven pads (0, 1; 1, 1): 4x5 = 20 output pixels
  w2: [4, 3, 2, 3],
  x3: [4, 5, 5, 4], // 3x3 stride 2 pad 1 on 5x4 -> 3x2: strided
  w3: [6, 5, 3, 3],
  x4: [4, 5, 4, 4], // stride-1 1x1 (16 output pixels): rewritten only within the pointwise limit
  w4: [6, 5, 1, 1],
  x5: [4, 5, 4, 4], // 1x1 stride 2: one tap, strided
  w5: [6, 5, 1, 1],
};

const CONVS: ConvCase[] = [
  { inputs: ['x1', 'w1', 'b1'], attributes: { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) } },
  { inputs: ['x2', 'w2'], attributes: { kernel_shape: ints([2, 3]), pads: ints([0, 1, 1, 1]) } },
  {
    inputs: ['x3', 'w3'],
    attributes: { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), strides: ints([2, 2]) },
  },
  { inputs: ['x4', 'w4'], attributes: { kernel_shape: ints([1, 1]) } },
  { inputs: ['x5', 'w5'], attributes: { kernel_shape: ints([1, 1]), strides: ints([2, 2]) } },
];

const run = (limits: Im2colLimits | null) =>
  runConvs(INPUTS, CONVS, limits && ((b, shapes) => rewriteIm2colConvs(b, shapes, limits)));

describe('im2col convolutions (training graph rewrite)', () => {
  it('computes the convolutions and their gradients; rewrites only the convs within its limit', async () => {
    const reference = await run(null);
    const convs = (r: { opTypes: string[] }) => r.opTypes.filter((op) => op === 'Conv').length;
    const all = await run({ maxOutputPixels: 20 });
    assert.equal(all.rewritten, 4);
    assert.equal(convs(all), 1, 'the stride-1 1x1 conv stays without a pointwise limit');
    // Stride-1 input gradients are im2cols of dY (closed form); only the strided 3x3 conv's is a col2im.
    assert.equal(all.backwardOpTypes.filter((op) => op === 'Sum').length, 1);
    assertSameFunction(reference, all, INPUTS);
    const small = await run({ maxOutputPixels: 16 });
    assert.equal(small.rewritten, 3, 'the 20-pixel output is over the limit');
    assertSameFunction(reference, small, INPUTS);
    const pointwise = await run({ maxOutputPixels: 20, maxPointwiseOutputPixels: 16 });
    assert.equal(pointwise.rewritten, 5);
    assert.equal(convs(pointwise), 0);
    const count = (ops: string[], op: string) => ops.filter((type) => type === op).length;
    // Stride-1 columns are one Gather each (their gradient is the closed form), the strided 3x3 conv's Slices and
    // a Concat (its col2im is derived from them); the 1x1 convs stack no columns.
    assert.equal(count(pointwise.opTypes, 'Concat'), 1);
    assert.equal(count(pointwise.opTypes, 'Gather'), 2);
    assert.equal(
      count(pointwise.backwardOpTypes, 'Gather'),
      2,
      "dY's columns for the stride-1 input gradients",
    );
    assertSameFunction(reference, pointwise, INPUTS);
    const pointwiseBelow = await run({ maxOutputPixels: 20, maxPointwiseOutputPixels: 15 });
    assert.equal(pointwiseBelow.rewritten, 4);
  });
});
