/**
 * Static shapes of a graph's values, read from one run of it: the graph built so far is run once by ONNX Runtime
 * with every float value it computes as an output. Gradient rules need the shapes (broadcast reductions, padding
 * amounts, transposed-convolution output padding); running the graph gives them exactly, with no second
 * implementation of every op's shape function to keep in step with ONNX Runtime.
 */
import type * as ort from 'onnxruntime-node';
import type { OnnxBuilder, Value } from '../builder.js';
import { DataType, encodeModel } from '../onnx-proto.js';

/**
 * Values of the graph that are float tensors: everything except shape arithmetic (Shape, Size and what is
 * computed from them or from int64 constants) and casts to other types. Graph inputs are excluded.
 */
export function floatNodeOutputs(b: OnnxBuilder): Value[] {
  const integers = new Set<Value>();
  const floats: Value[] = [];
  for (const node of b.nodeList) {
    let integer: boolean;
    if (node.opType === 'Shape' || node.opType === 'Size') integer = true;
    else if (node.opType === 'Cast') {
      const to = node.attributes.to;
      integer = to?.kind === 'int' && to.value !== DataType.FLOAT;
    } else if (node.opType === 'ConstantOfShape') integer = false;
    else {
      const first = node.inputs[0];
      integer = first !== undefined && (integers.has(first) || b.int64ValuesOf(first) !== undefined);
    }
    for (const output of node.outputs) {
      if (integer) integers.add(output);
      else floats.push(output);
    }
  }
  return floats;
}

/** Runs the nodes of `b` once on `feeds` and returns the shape of every float value (feeds included). */
export async function probeShapes(
  runtime: typeof ort,
  b: OnnxBuilder,
  feeds: Record<string, ort.Tensor>,
  threads?: number,
): Promise<Map<Value, number[]>> {
  const graph = b.graph('shape_probe');
  const outputs = floatNodeOutputs(b).map((name) => ({ name, elemType: DataType.FLOAT, shape: null }));
  const bytes = encodeModel({
    irVersion: 8,
    opsetVersion: b.options.opset,
    producerName: 'rla-net',
    producerVersion: '0.1.0',
    docString: 'shape probe',
    graph: { ...graph, outputs },
    metadata: {},
  });
  const session = await runtime.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'disabled',
    executionMode: 'sequential',
    logSeverityLevel: 3,
    ...(threads === undefined ? {} : { intraOpNumThreads: threads }),
  });
  try {
    const results = await session.run(feeds);
    const shapes = new Map<Value, number[]>();
    for (const [name, value] of Object.entries(results)) shapes.set(name, [...value.dims]);
    for (const [name, value] of Object.entries(feeds)) shapes.set(name, [...value.dims]);
    for (const initializer of graph.initializers) shapes.set(initializer.name, [...initializer.dims]);
    return shapes;
  } finally {
    await session.release();
  }
}
