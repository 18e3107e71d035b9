/**
 * What the graph-gradient tests share: deterministic noise, the scalar loss sum(y * r) whose gradient with
 * respect to y is the noise r (so every element of y gets a different weight), and the finished graph's bytes.
 */
import type { OnnxBuilder, Value } from '../../src/onnx/builder.js';
import { encodeModel } from '../../src/onnx/onnx-proto.js';
import { reduceSum } from '../../src/onnx/training-layers.js';

export const numel = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Deterministic pseudo-random values in [-1, 1). */
export function noise(count: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

/** sum(y * r) over every axis of y (shape `dims`), recording the shapes of the values it adds. */
export function weightedLoss(
  b: OnnxBuilder,
  shapes: Map<Value, number[]>,
  y: Value,
  r: Value,
  dims: number[],
): Value {
  const product = b.node('Mul', [y, r]);
  shapes.set(product, dims);
  const loss = reduceSum(
    b,
    product,
    dims.map((_, axis) => axis),
    false,
  );
  shapes.set(loss, []);
  return loss;
}

/** The builder's graph as ONNX bytes (opset 17), for an ONNX Runtime session. */
export function encodeTestGraph(b: OnnxBuilder, name: string): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsetVersion: 17,
    producerName: 'test',
    producerVersion: '0',
    docString: '',
    graph: b.graph(name),
    metadata: {},
  });
}
