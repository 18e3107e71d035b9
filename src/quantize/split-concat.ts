/**
 * The RLA path's deliberate handling before quantization. RLA layers read `cat(x, h)`: x is a ReLU output
 * ([0, 5] on Fashion-MNIST), h a recurrent conv output ([-3.6, 3.6]) or at the head relu(bn(h)) ([0, 2.8]
 * against x's [0, 11.6]). One uint8 scale for the concatenation costs x or h one to two bits. So a layer reading
 * a concatenation is split by input: conv(cat(a, b), W) = conv(a, W[:, :Ca]) + conv(b, W[:, Ca:]) (bias on the
 * first), and the head's Gemm(Flatten|Reshape(GlobalAveragePool(cat(a, b)))) likewise per input; each part then gets its
 * own scale. A concatenation read by a depthwise conv or a ReLU is first moved past it (push-concat.ts). The float function is unchanged (up to float rounding).
 */
import {
  DataType,
  floatData,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/onnx-proto.js';
import { pushConcatsThroughChannelwise } from './push-concat.js';

/** Input channels [start, end) of a weight whose axis 1 is the input channel (OIHW, or [out, in]). */
function sliceInputChannels(weight: TensorProto, start: number, end: number, name: string): TensorProto {
  const data = floatData(weight);
  const [out, inChannels] = weight.dims;
  const inner = weight.dims.slice(2).reduce((a, b) => a * b, 1);
  const sliced = new Float32Array(out * (end - start) * inner);
  for (let o = 0; o < out; o++) {
    sliced.set(
      data.subarray((o * inChannels + start) * inner, (o * inChannels + end) * inner),
      o * (end - start) * inner,
    );
  }
  return {
    name,
    dataType: DataType.FLOAT,
    dims: [out, end - start, ...weight.dims.slice(2)],
    rawData: new Uint8Array(sliced.buffer),
  };
}

/**
 * Splits every Conv (one group) and every GlobalAveragePool -> Flatten -> Gemm head that reads a channel
 * Concat, as the file comment says. `channelsOf` gives a value's channel count (calibration shapes).
 */
export function splitConcatLayers(
  original: GraphProto,
  probedChannels: (value: string) => number | undefined,
): GraphProto {
  // Depthwise convs and ReLUs after a concatenation first take it past them (push-concat.ts).
  const pushed = pushConcatsThroughChannelwise(original, probedChannels);
  const graph = pushed.graph;
  const channelsOf = (value: string) => pushed.channels.get(value) ?? probedChannels(value);
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const producers = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const consumers = new Map<string, NodeProto[]>();
  for (const node of graph.nodes)
    for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);
  const replaced = new Map<NodeProto, NodeProto[]>();
  const added: TensorProto[] = [];
  const removed = new Set<NodeProto>();

  const concatParts = (value: string) => {
    const concat = producers.get(value);
    if (concat?.opType !== 'Concat' || concat.attributes.axis?.value !== 1) return null;
    const channels = concat.inputs.map(channelsOf);
    if (channels.some((c) => c === undefined)) return null;
    return { concat, channels: channels as number[] };
  };
  /** One layer per input part, each on its weight slice, summed; the first part carries the bias. */
  const split = (
    node: NodeProto,
    parts: string[],
    channels: number[],
    makePart: (input: string, weight: string, bias: string | null, output: string) => NodeProto[],
  ) => {
    const weight = initializers.get(node.inputs[1]);
    if (!weight || weight.dataType !== DataType.FLOAT) return null;
    let start = 0;
    const nodes: NodeProto[] = [];
    const outputs: string[] = [];
    parts.forEach((part, i) => {
      const sliceName = `${node.inputs[1]}:in${start}-${start + channels[i]}`;
      if (!initializers.has(sliceName)) {
        const sliced = sliceInputChannels(weight, start, start + channels[i], sliceName);
        initializers.set(sliceName, sliced);
        added.push(sliced);
      }
      const output = `${node.outputs[0]}:part${i}`;
      nodes.push(...makePart(part, sliceName, i === 0 ? (node.inputs[2] ?? null) : null, output));
      outputs.push(output);
      start += channels[i];
    });
    let sum = outputs[0];
    for (let i = 1; i < outputs.length; i++) {
      const output = i === outputs.length - 1 ? node.outputs[0] : `${node.outputs[0]}:sum${i}`;
      nodes.push({
        opType: 'Add',
        name: `${node.name}:sum${i}`,
        inputs: [sum, outputs[i]],
        outputs: [output],
        attributes: {},
      });
      sum = output;
    }
    return nodes;
  };

  for (const node of graph.nodes) {
    if (node.opType === 'Conv' && (node.attributes.group?.value ?? 1) === 1) {
      const found = concatParts(node.inputs[0]);
      if (!found) continue;
      const nodes = split(node, found.concat.inputs, found.channels, (input, weight, bias, output) => [
        {
          ...node,
          name: `${node.name}:${output.split(':').at(-1)}`,
          inputs: bias ? [input, weight, bias] : [input, weight],
          outputs: [output],
        },
      ]);
      if (nodes) replaced.set(node, nodes);
    } else if (node.opType === 'Gemm' && node.attributes.transB?.value === 1) {
      const flatten = producers.get(node.inputs[0]);
      // The traced head flattens the pooled [N, C, 1, 1] map with a Reshape (or a Flatten).
      const flattens = flatten?.opType === 'Flatten' || flatten?.opType === 'Reshape';
      const pool = flattens ? producers.get(flatten.inputs[0]) : undefined;
      if (!flatten || pool?.opType !== 'GlobalAveragePool') continue;
      if (
        (consumers.get(flatten.outputs[0]) ?? []).length !== 1 ||
        (consumers.get(pool.outputs[0]) ?? []).length !== 1
      )
        continue;
      const found = concatParts(pool.inputs[0]);
      if (!found) continue;
      const nodes = split(node, found.concat.inputs, found.channels, (input, weight, bias, output) => [
        {
          opType: 'GlobalAveragePool',
          name: `${output}/GlobalAveragePool`,
          inputs: [input],
          outputs: [`${output}:pooled`],
          attributes: {},
        },
        {
          opType: 'Flatten',
          name: `${output}/Flatten`,
          inputs: [`${output}:pooled`],
          outputs: [`${output}:flat`],
          attributes: { axis: { kind: 'int', value: 1 } },
        },
        {
          ...node,
          name: `${node.name}:${output.split(':').at(-1)}`,
          inputs: bias ? [`${output}:flat`, weight, bias] : [`${output}:flat`, weight],
          outputs: [output],
        },
      ]);
      if (nodes) {
        replaced.set(node, nodes);
        removed.add(flatten);
        removed.add(pool);
      }
    }
  }
  const nodes = graph.nodes.filter((n) => !removed.has(n)).flatMap((n) => replaced.get(n) ?? [n]);
  // A concatenation nobody reads any more is dropped (the graph outputs keep theirs).
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const read = new Set(nodes.flatMap((n) => n.inputs));
  const live = nodes.filter(
    (n) => n.opType !== 'Concat' || n.outputs.some((o) => read.has(o) || outputs.has(o)),
  );
  const used = new Set(live.flatMap((n) => n.inputs));
  return {
    ...graph,
    nodes: live,
    initializers: [...graph.initializers, ...added].filter((t) => used.has(t.name)),
  };
}
