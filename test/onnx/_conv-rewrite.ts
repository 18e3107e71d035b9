/**
 * What the tests of the training forward's conv rewrites share: builds convs on fed inputs, optionally rewrites
 * them, differentiates sum(y_i * r_i) with respect to every input and runs the graph on ONNX Runtime.
 */
import assert from 'node:assert/strict';
import { differentiate } from '../../src/onnx/autodiff/differentiate.js';
import { OnnxBuilder, type Value } from '../../src/onnx/builder.js';
import type { AttributeValue } from '../../src/onnx/onnx-proto.js';
import { loadOnnxRuntime } from '../../src/onnx/session.js';
import { probeShapes } from '../../src/onnx/training/shape-probe.js';
import { encodeTestGraph, noise, numel, weightedLoss } from './_weighted-loss.js';

/** A conv of the test graph: its input names (x, w[, bias]) and attributes. */
export interface ConvCase {
  inputs: string[];
  attributes: Record<string, AttributeValue>;
}

export interface ConvRun {
  outputs: Float32Array[];
  gradients: Record<string, Float32Array>;
  rewritten: number;
  /** Op types of the forward (after the rewrite) and of the backward. */
  opTypes: string[];
  backwardOpTypes: string[];
}

/** Builds `convs` on `inputs` (name -> dims), applies `rewrite` once shapes are known, differentiates, runs. */
export async function runConvs(
  inputs: Record<string, number[]>,
  convs: ConvCase[],
  rewrite: ((b: OnnxBuilder, shapes: Map<Value, number[]>) => number) | null,
): Promise<ConvRun> {
  const runtime = await loadOnnxRuntime();
  const b = new OnnxBuilder({ opset: 17, foldBatchNorm: false, training: true, batchSize: 4 });
  const x: Record<string, Value> = {};
  for (const [name, dims] of Object.entries(inputs)) x[name] = b.input(name, dims);
  const ys = convs.map((conv) =>
    b.node(
      'Conv',
      conv.inputs.map((name) => x[name]),
      conv.attributes,
    ),
  );
  const feeds = () =>
    Object.fromEntries(
      Object.entries(inputs).map(([name, dims], i) => [
        name,
        new runtime.Tensor('float32', noise(numel(dims), 3 + i), dims),
      ]),
    );
  const shapes = await probeShapes(runtime, b, { batch: 4, batchInputs: [], feeds });
  for (const [name, dims] of Object.entries(inputs)) shapes.set(x[name], dims);
  const rewritten = rewrite ? rewrite(b, shapes) : 0;
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
  const backwardStart = b.nodeList.length;
  const gradients = differentiate(b, loss, Object.values(x), (value) => {
    const shape = shapes.get(value);
    if (!shape) throw new Error(`no shape for ${value}`);
    return shape;
  });
  const backwardOpTypes = b.nodeList.slice(backwardStart).map((node) => node.opType);
  ys.forEach((y, i) => {
    b.output(y, `y${i}`, shapes.get(y) as number[]);
  });
  for (const [name, dims] of Object.entries(inputs))
    b.output(gradients.get(x[name]) as Value, `d_${name}`, dims);
  const session = await runtime.InferenceSession.create(encodeTestGraph(b, 'conv_rewrite'));
  try {
    const result = await session.run(feeds());
    return {
      outputs: ys.map((_, i) => result[`y${i}`].data as Float32Array),
      gradients: Object.fromEntries(
        Object.keys(inputs).map((name) => [name, result[`d_${name}`].data as Float32Array]),
      ),
      rewritten,
      opTypes,
      backwardOpTypes,
    };
  } finally {
    await session.release();
  }
}

/** max|a - b| / max|a|. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let scale = 0;
  let error = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]));
    error = Math.max(error, Math.abs(a[i] - b[i]));
  }
  return error / Math.max(scale, 1e-12);
}

/** Outputs and every input's gradient of `run` within 1e-5 (relative) of `reference`'s. */
export function assertSameFunction(reference: ConvRun, run: ConvRun, inputs: Record<string, number[]>): void {
  reference.outputs.forEach((y, i) => {
    assert.ok(relativeError(y, run.outputs[i]) < 1e-5, `output ${i}`);
  });
  for (const name of Object.keys(inputs)) {
    const error = relativeError(reference.gradients[name], run.gradients[name]);
    assert.ok(error < 1e-5, `d loss / d ${name}: relative error ${error}`);
  }
}
