/**
 * Static shapes of a graph's values, read from one run of it: the graph built so far is run once by ONNX Runtime
 * with every float value it computes as an output. Gradient rules need the shapes (broadcast reductions, padding
 * amounts, transposed-convolution output padding); running the graph gives them exactly, with no second
 * implementation of every op's shape function to keep in step with ONNX Runtime.
 */
import type * as ort from 'onnxruntime-node';
import type { OnnxBuilder, Value } from '../builder.js';
import { DataType, encodeModel } from '../onnx-proto.js';

/** Notes a value's shape in a shape map and returns the value (for the rewrites that add values after the probe). */
export type ShapeRecorder = (value: Value, shape: number[]) => Value;

/** A {@link ShapeRecorder} writing into `shapes`. */
export function shapeRecorder(shapes: Map<Value, number[]>): ShapeRecorder {
  return (value, shape) => {
    shapes.set(value, shape);
    return value;
  };
}

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

/** How to probe: the feeds at a batch size, and which inputs have the batch as their first axis. */
export interface ProbeOptions {
  /** The graph's (fixed) batch size. */
  batch: number;
  /** Inputs whose first axis is the batch (probed at batches 1 and 2, so the probe stays small). */
  batchInputs: readonly string[];
  /** The feeds at a batch size. */
  feeds: (batch: number) => Record<string, ort.Tensor>;
  threads?: number;
}

function probeModel(b: OnnxBuilder, batchInputs: readonly string[]): Uint8Array {
  const graph = b.graph('shape_probe', { asBuilt: true });
  const outputs = floatNodeOutputs(b).map((name) => ({ name, elemType: DataType.FLOAT, shape: null }));
  const inputs = graph.inputs.map((input) =>
    batchInputs.includes(input.name) && input.shape
      ? { ...input, shape: ['batch', ...input.shape.slice(1)] }
      : input,
  );
  return encodeModel({
    irVersion: 8,
    opsetVersion: b.options.opset,
    producerName: 'rla-net',
    producerVersion: '0.1.0',
    docString: 'shape probe',
    graph: { ...graph, inputs, outputs },
    metadata: {},
  });
}

/**
 * The shape of every float value of the nodes of `b` (inputs and initializers included). With batch inputs the
 * graph runs at batches 1 and 2: a value whose first axis follows the batch gets the real batch there, every
 * other axis must agree between the two runs. Without, it runs once at the real batch.
 */
export async function probeShapes(
  runtime: typeof ort,
  b: OnnxBuilder,
  options: ProbeOptions,
): Promise<Map<Value, number[]>> {
  const batched = options.batchInputs.length > 0;
  const session = await runtime.InferenceSession.create(probeModel(b, options.batchInputs), {
    graphOptimizationLevel: 'disabled',
    executionMode: 'sequential',
    logSeverityLevel: 3,
    ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
  });
  const run = async (batch: number) => {
    const feeds = options.feeds(batch);
    const results = await session.run(feeds);
    const shapes = new Map<Value, number[]>();
    for (const [name, value] of Object.entries(results)) shapes.set(name, [...value.dims]);
    for (const [name, value] of Object.entries(feeds)) shapes.set(name, [...value.dims]);
    return shapes;
  };
  try {
    let shapes: Map<Value, number[]>;
    if (!batched) shapes = await run(options.batch);
    else {
      const one = await run(1);
      const two = await run(2);
      shapes = new Map();
      for (const [name, a] of one) {
        const c = two.get(name) ?? a;
        if (a.length !== c.length || a.some((d, i) => i > 0 && d !== c[i])) {
          throw new Error(`shape probe: ${name} is [${a}] at batch 1 but [${c}] at batch 2`);
        }
        shapes.set(name, a[0] === 1 && c[0] === 2 ? [options.batch, ...a.slice(1)] : a);
      }
    }
    for (const initializer of b.graph('probe').initializers)
      shapes.set(initializer.name, [...initializer.dims]);
    return shapes;
  } finally {
    await session.release();
  }
}
