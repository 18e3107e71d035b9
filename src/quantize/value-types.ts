/** Which values of an exported graph are integers (shape arithmetic), so quantization leaves them alone. */
import { DataType, type GraphProto } from '../onnx/onnx-proto.js';

/** Ops whose output is an integer whenever their first input is. */
const SHAPE_ARITHMETIC = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Concat',
  'Slice',
  'Gather',
  'Reshape',
  'Unsqueeze',
]);

/** The names of the integer values of `graph`: int64 constants, `Shape` outputs and arithmetic on them. */
export function integerValues(graph: GraphProto): Set<string> {
  const integers = new Set(
    graph.initializers.filter((t) => t.dataType === DataType.INT64).map((t) => t.name),
  );
  for (const node of graph.nodes) {
    const fromInteger = SHAPE_ARITHMETIC.has(node.opType) && integers.has(node.inputs[0]);
    if (node.opType === 'Shape' || node.opType === 'Size' || fromInteger) {
      for (const output of node.outputs) integers.add(output);
    }
  }
  return integers;
}
