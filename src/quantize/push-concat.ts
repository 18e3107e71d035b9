/**
 * Moves channel concatenations past the layers that treat each channel on its own, before split-concat.ts splits
 * the first layer that mixes channels. dsRLA-MobileNetV2 concatenates the expanded x with h and runs a depthwise
 * conv, ReLU6 and the pointwise projection on the result: as
 *   dw(cat(a, b), W) = cat(dw(a, W[:Ca]), dw(b, W[Ca:]))   and   clip(cat(a, b)) = cat(clip(a), clip(b)),
 * the concatenation reaches the projection, which split-concat.ts then splits by input, so no concatenation is
 * left. Why: ONNX Runtime's QLinearConcat runs channels-last, one pixel's channels at a time on one thread (21 of
 * the 85 ms of an int8 batch of 16 at 224x224), and x and h keep their own scales through the depthwise conv.
 * The float function is unchanged (each output channel is computed from the same values).
 */
import {
  DataType,
  floatData,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/onnx-proto.js';

/** Elementwise ops with no channel mixing whose only tensor input is the first (bounds are constants). */
const CHANNELWISE_UNARY = new Set(['Relu', 'Clip']);

/** Rows [start, end) along axis 0 of a float initializer (a depthwise weight [C, 1, kh, kw] or a bias [C]). */
function sliceRows(tensor: TensorProto, start: number, end: number, name: string): TensorProto {
  const inner = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
  const rows = floatData(tensor).slice(start * inner, end * inner);
  return {
    name,
    dataType: DataType.FLOAT,
    dims: [end - start, ...tensor.dims.slice(1)],
    rawData: new Uint8Array(rows.buffer),
  };
}

function isDepthwise(node: NodeProto, initializers: Map<string, TensorProto>, channels: number): boolean {
  if (node.opType !== 'Conv') return false;
  const weight = initializers.get(node.inputs[1]);
  const bias = node.inputs[2] ? initializers.get(node.inputs[2]) : undefined;
  return (
    (node.attributes.group?.value ?? 1) === channels &&
    weight?.dataType === DataType.FLOAT &&
    weight.dims[0] === channels &&
    weight.dims[1] === 1 &&
    (!node.inputs[2] || bias?.dataType === DataType.FLOAT)
  );
}

/**
 * Rewrites, until none is left, every channel Concat read only by a depthwise conv or a ReLU / Clip into one such
 * layer per part followed by the Concat. Returns the graph and the channel count of every value it created.
 */
export function pushConcatsThroughChannelwise(
  graph: GraphProto,
  channelsOf: (value: string) => number | undefined,
): { graph: GraphProto; channels: Map<string, number> } {
  const channels = new Map<string, number>();
  const channelCount = (value: string) => channels.get(value) ?? channelsOf(value);
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  let nodes = graph.nodes;
  for (;;) {
    const readers = new Map<string, NodeProto[]>();
    for (const node of nodes)
      for (const input of node.inputs) readers.set(input, [...(readers.get(input) ?? []), node]);
    const graphOutputs = new Set(graph.outputs.map((o) => o.name));
    let rewrite: { concat: NodeProto; layer: NodeProto; replacement: NodeProto[] } | null = null;
    for (const concat of nodes) {
      if (concat.opType !== 'Concat' || concat.attributes.axis?.value !== 1) continue;
      const readBy = readers.get(concat.outputs[0]) ?? [];
      if (readBy.length !== 1 || graphOutputs.has(concat.outputs[0])) continue;
      const [layer] = readBy;
      if (layer.inputs[0] !== concat.outputs[0]) continue;
      const parts = concat.inputs.map(channelCount);
      if (parts.some((c) => c === undefined)) continue;
      const total = (parts as number[]).reduce((a, b) => a + b, 0);
      const depthwise = isDepthwise(layer, initializers, total);
      if (!depthwise && !CHANNELWISE_UNARY.has(layer.opType)) continue;
      const replacement: NodeProto[] = [];
      const outputs: string[] = [];
      let start = 0;
      concat.inputs.forEach((part, i) => {
        const count = parts[i] as number;
        const output = `${layer.outputs[0]}:ch${start}-${start + count}`;
        let inputs = [part, ...layer.inputs.slice(1)];
        let attributes = layer.attributes;
        if (depthwise) {
          inputs = [part];
          for (const weightOrBias of layer.inputs.slice(1)) {
            const name = `${weightOrBias}:ch${start}-${start + count}`;
            if (!initializers.has(name)) {
              const tensor = initializers.get(weightOrBias) as TensorProto;
              initializers.set(name, sliceRows(tensor, start, start + count, name));
            }
            inputs.push(name);
          }
          attributes = { ...layer.attributes, group: { kind: 'int', value: count } };
        }
        replacement.push({
          ...layer,
          name: `${layer.name}:ch${start}`,
          inputs,
          outputs: [output],
          attributes,
        });
        channels.set(output, count);
        outputs.push(output);
        start += count;
      });
      replacement.push({ ...concat, inputs: outputs, outputs: [layer.outputs[0]] });
      channels.set(layer.outputs[0], total);
      rewrite = { concat, layer, replacement };
      break;
    }
    if (!rewrite) break;
    const { concat, layer, replacement } = rewrite;
    nodes = nodes.filter((n) => n !== concat).flatMap((n) => (n === layer ? replacement : [n]));
  }
  const used = new Set(nodes.flatMap((n) => n.inputs));
  return {
    graph: { ...graph, nodes, initializers: [...initializers.values()].filter((t) => used.has(t.name)) },
    channels,
  };
}
