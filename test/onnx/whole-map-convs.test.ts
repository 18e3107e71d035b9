/**
 * The training graph's rewrite of convolutions on small maps into products over the batch
 * (src/onnx/training/whole-map-convs.ts): the rewritten graph computes the same outputs and, through the
 * differentiator, the same gradients as the convolutions it replaces (whose rule is checked against finite
 * differences in gradient-rules.test.ts); it rewrites exactly the convs within its limits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { differentiate } from '../../src/onnx/autodiff/differentiate.js';
import { ints, OnnxBuilder, type Value } from '../../src/onnx/builder.js';
import { loadOnnxRuntime } from '../../src/onnx/session.js';
import { probeShapes } from '../../src/onnx/training/shape-probe.js';
import {
  rewriteSingleTapConvs,
  rewriteWholeMapConvs,
  type WholeMapLimits,
} from '../../src/onnx/training/whole-map-convs.js';
import { encodeTestGraph, noise, numel, weightedLoss } from './_weighted-loss.js';

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

interface Run {
  outputs: Float32Array[];
  gradients: Record<string, Float32Array>;
  rewritten: number;
  opTypes: string[];
}

/** Builds the four convs, optionally rewrites them, differentiates sum(y_i * r_i) and runs it. */
async function run(rewrite: WholeMapLimits | null): Promise<Run> {
  const runtime = await loadOnnxRuntime();
  const b = new OnnxBuilder({ opset: 17, foldBatchNorm: false, training: true, batchSize: 4 });
  const x: Record<string, Value> = {};
  for (const [name, dims] of Object.entries(INPUTS)) x[name] = b.input(name, dims);
  const pad1 = { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) };
  const ys = [
    b.node('Conv', [x.x1, x.w1, x.b1], pad1),
    b.node('Conv', [x.x2, x.w2], { ...pad1, strides: ints([2, 2]) }),
    b.node('Conv', [x.x3, x.w3], { kernel_shape: ints([1, 1]) }),
    b.node('Conv', [x.x4, x.w4], { ...pad1, strides: ints([2, 2]) }),
  ];
  const feeds = () =>
    Object.fromEntries(
      Object.entries(INPUTS).map(([name, dims], i) => [
        name,
        new runtime.Tensor('float32', noise(numel(dims), 3 + i), dims),
      ]),
    );
  const shapes = await probeShapes(runtime, b, { batch: 4, batchInputs: [], feeds });
  for (const [name, dims] of Object.entries(INPUTS)) shapes.set(x[name], dims);
  let rewritten = 0;
  if (rewrite) rewritten = rewriteSingleTapConvs(b, shapes) + rewriteWholeMapConvs(b, shapes, rewrite);
  const opTypes = b.nodeList.map((node) => node.opType);
  const weighted = ys.map((y, i) => {
    const dims = shapes.get(y) as number[];
    const r = b.floatConstant(`r${i}`, `r${i}`, dims, () => noise(numel(dims), 50 + i));
    return weightedLoss(b, shapes, y, r, dims);
  });
  let loss = weighted[0];
  for (const term of weighted.slice(1)) {
    loss = b.node('Add', [loss, term]);
    shapes.set(loss, []);
  }
  const gradients = differentiate(b, loss, Object.values(x), (value) => {
    const shape = shapes.get(value);
    if (!shape) throw new Error(`no shape for ${value}`);
    return shape;
  });
  ys.forEach((y, i) => {
    b.output(y, `y${i}`, shapes.get(y) as number[]);
  });
  for (const [name, dims] of Object.entries(INPUTS))
    b.output(gradients.get(x[name]) as Value, `d_${name}`, dims);
  const model = encodeTestGraph(b, 'whole_map');
  const session = await runtime.InferenceSession.create(model);
  try {
    const result = await session.run(feeds());
    return {
      outputs: ys.map((_, i) => result[`y${i}`].data as Float32Array),
      gradients: Object.fromEntries(
        Object.keys(INPUTS).map((name) => [name, result[`d_${name}`].data as Float32Array]),
      ),
      rewritten,
      opTypes,
    };
  } finally {
    await session.release();
  }
}

/** max|a - b| / max|a|. */
function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let scale = 0;
  let error = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]));
    error = Math.max(error, Math.abs(a[i] - b[i]));
  }
  return error / Math.max(scale, 1e-12);
}

describe('whole-map convolutions (training graph rewrite)', () => {
  it('computes the convolutions and their gradients; rewrites only within the limits', async () => {
    const reference = await run(null);
    assert.equal(reference.opTypes.filter((op) => op === 'Conv').length, 4);
    // Waste limit 3: the 2x2 3x3 conv and the strided one are rewritten, the 1x1 (waste 4) is not; the
    // single-tap conv goes to the single-tap rewrite.
    const rewritten = await run({ maxOutputPixels: 4, maxWaste: 3 });
    assert.equal(rewritten.rewritten, 3);
    assert.equal(rewritten.opTypes.filter((op) => op === 'Conv').length, 1, 'only the 1x1 conv stays a Conv');
    reference.outputs.forEach((y, i) => {
      assert.ok(relativeError(y, rewritten.outputs[i]) < 1e-5, `output ${i}`);
    });
    for (const name of Object.keys(INPUTS)) {
      const error = relativeError(reference.gradients[name], rewritten.gradients[name]);
      assert.ok(error < 1e-5, `d loss / d ${name}: relative error ${error}`);
    }
    // Waste limit 1 keeps the strided conv too; a 1-pixel output limit keeps every whole-map candidate.
    const strict = await run({ maxOutputPixels: 4, maxWaste: 1 });
    assert.equal(strict.opTypes.filter((op) => op === 'Conv').length, 2);
    const tiny = await run({ maxOutputPixels: 1, maxWaste: 10 });
    assert.equal(tiny.opTypes.filter((op) => op === 'Conv').length, 3);
  });
});
