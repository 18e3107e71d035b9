/**
 * Static post-training quantization of an exported (BatchNorm-folded) rla-net graph into the ONNX QDQ format:
 * per-channel symmetric int8 weights, per-tensor asymmetric uint8 activations, int32 biases at the product of the
 * input and weight scales. ONNX Runtime turns each DequantizeLinear -> op -> QuantizeLinear pattern into its
 * integer kernel (QLinearConv, QLinearAdd, QGemm, ...); the graph stays valid ONNX that any runtime can run.
 *
 * A ReLU or ReLU6 right after a quantized op is absorbed into that op's output quantization (a uint8 range that
 * starts at 0 clips as the ReLU would), as ONNX Runtime's own quantizer does, so the integer kernels chain.
 */
import {
  DataType,
  floatData,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/onnx-proto.js';
import { integerValues } from './value-types.js';

/** A calibrated range of a tensor. */
export interface TensorRange {
  min: number;
  max: number;
}

export interface QdqOptions {
  /** Names of nodes to keep in float32 (their inputs and weights are not quantized). */
  keepFloat?: ReadonlySet<string>;
  /** Bits of the int8 weights' range (default 8; see `quantizeWeights`). */
  weightBits?: WeightBits;
}

/** Op types quantized (their float inputs and outputs get a quantize/dequantize pair). */
export const QUANTIZED_OPS = new Set([
  'Conv',
  'Gemm',
  'Add',
  'Mul',
  'Concat',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Sigmoid',
]);
/** Ops whose output keeps their input's quantization (ONNX Runtime then runs them on uint8 directly). */
const SAME_RANGE_OPS = new Set(['MaxPool']);
/** Activations a preceding quantized op absorbs. */
export const ABSORBED_ACTIVATIONS = new Set(['Relu', 'Clip']);

/** uint8 scale and zero point of a range (widened to include 0, as integer kernels need 0 exactly). */
export function activationQuantization(range: TensorRange): { scale: number; zeroPoint: number } {
  const min = Math.min(range.min, 0);
  const max = Math.max(range.max, 0);
  if (!(Number.isFinite(min) && Number.isFinite(max))) {
    throw new Error(`cannot quantize a tensor of range [${range.min}, ${range.max}]`);
  }
  const scale = max > min ? (max - min) / 255 : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-min / scale)));
  return { scale, zeroPoint };
}

/**
 * Per-output-channel symmetric int8 weights: scale_c = max|w_c| / L with L = 127 (8 bits) or 63 (7 bits).
 * 7 bits avoid the int16 saturation of x86 CPUs without VNNI: their u8 x s8 kernels add two products in 16
 * bits (vpmaddubsw), and 255 x 127 x 2 overflows where 255 x 63 x 2 does not.
 */
export function quantizeWeights(
  weights: Float32Array,
  channels: number,
  bits: WeightBits = 8,
): { values: Int8Array; scales: Float32Array } {
  const limit = bits === 8 ? 127 : 63;
  const perChannel = weights.length / channels;
  const values = new Int8Array(weights.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let max = 0;
    for (let i = c * perChannel; i < (c + 1) * perChannel; i++) max = Math.max(max, Math.abs(weights[i]));
    const scale = max > 0 ? max / limit : 1;
    scales[c] = scale;
    for (let i = c * perChannel; i < (c + 1) * perChannel; i++) {
      values[i] = Math.max(-limit, Math.min(limit, Math.round(weights[i] / scale)));
    }
  }
  return { values, scales };
}

export type WeightBits = 7 | 8;

/**
 * The weight bits for integer kernels on this machine: 8 where the CPU multiplies u8 x s8 without 16-bit
 * saturation (AVX-512 VNNI, AVX-VNNI, or not x86), else 7. Read from /proc/cpuinfo (Linux); elsewhere 8.
 */
export function nativeWeightBits(cpuFlags: string | null): WeightBits {
  if (cpuFlags === null || !/\bavx2\b/.test(cpuFlags)) return 8;
  return /\b(avx512_vnni|avx_vnni|avx512vnni)\b/.test(cpuFlags) ? 8 : 7;
}

const bytesOf = (array: ArrayBufferView) => new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

/** The QDQ form of `graph` given each activation's calibrated range. */
export function quantizeGraph(
  graph: GraphProto,
  ranges: ReadonlyMap<string, TensorRange>,
  options: QdqOptions = {},
): GraphProto {
  const keep = options.keepFloat ?? new Set<string>();
  const bits = options.weightBits ?? 8;
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const consumers = new Map<string, NodeProto[]>();
  for (const node of graph.nodes) {
    for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);
  }
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const integers = integerValues(graph);
  const quantized = new Set(
    graph.nodes
      .filter((n) => QUANTIZED_OPS.has(n.opType) && !keep.has(n.name))
      .filter((n) => !n.inputs.some((name) => integers.has(name)))
      .filter((n) => {
        if (n.opType !== 'Conv' && n.opType !== 'Gemm') return true;
        return initializers.has(n.inputs[1]) && (n.opType === 'Conv' || n.attributes.transB?.value === 1);
      }),
  );

  // Absorb a ReLU / ReLU6 that alone consumes a quantized op's output: the op's output takes the activation's
  // range (from 0) and the activation's consumers read the op's output instead.
  const removed = new Set<NodeProto>();
  const rename = new Map<string, string>();
  const outputRange = new Map<string, TensorRange>();
  for (const node of quantized) {
    const output = node.outputs[0];
    const users = consumers.get(output) ?? [];
    const activation = users[0];
    if (users.length !== 1 || !ABSORBED_ACTIVATIONS.has(activation.opType) || graphOutputs.has(output))
      continue;
    if (activation.opType === 'Clip' && !isReluClip(activation, initializers)) continue;
    const range = ranges.get(activation.outputs[0]);
    if (!range) continue;
    removed.add(activation);
    rename.set(activation.outputs[0], output);
    outputRange.set(output, { min: 0, max: range.max });
  }
  const resolve = (name: string) => rename.get(name) ?? name;

  // The activations to quantize, with their ranges.
  const params = new Map<string, { scale: number; zeroPoint: number }>();
  const rangeOf = (name: string) => outputRange.get(name) ?? ranges.get(name);
  for (const node of graph.nodes) {
    if (!quantized.has(node)) continue;
    for (const input of node.inputs.map(resolve)) {
      if (initializers.has(input) || params.has(input)) continue;
      const range = rangeOf(input);
      if (!range) throw new Error(`no calibrated range for ${input} (input of ${node.name})`);
      params.set(input, activationQuantization(range));
    }
  }
  for (const node of graph.nodes) {
    if (!quantized.has(node)) continue;
    const output = node.outputs[0];
    if (graphOutputs.has(output)) continue;
    if (SAME_RANGE_OPS.has(node.opType)) {
      const source = params.get(resolve(node.inputs[0]));
      if (source) params.set(output, source);
      continue;
    }
    const range = rangeOf(output);
    if (!range) throw new Error(`no calibrated range for ${output} (output of ${node.name})`);
    params.set(output, activationQuantization(range));
  }

  const added: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const constant = (
    name: string,
    dataType: TensorProto['dataType'],
    dims: number[],
    data: ArrayBufferView,
  ) => {
    added.push({ name, dataType, dims, rawData: bytesOf(data) });
    return name;
  };
  const dequantized = new Map<string, string>();
  const quantizePair = (tensor: string) => {
    const { scale, zeroPoint } = params.get(tensor) as { scale: number; zeroPoint: number };
    const scaleName = constant(`${tensor}:scale`, DataType.FLOAT, [], Float32Array.of(scale));
    const zeroName = constant(`${tensor}:zero_point`, DataType.UINT8, [], Uint8Array.of(zeroPoint));
    nodes.push({
      opType: 'QuantizeLinear',
      name: `${tensor}/QuantizeLinear`,
      inputs: [tensor, scaleName, zeroName],
      outputs: [`${tensor}:q`],
      attributes: {},
    });
    nodes.push({
      opType: 'DequantizeLinear',
      name: `${tensor}/DequantizeLinear`,
      inputs: [`${tensor}:q`, scaleName, zeroName],
      outputs: [`${tensor}:dq`],
      attributes: {},
    });
    dequantized.set(tensor, `${tensor}:dq`);
  };
  for (const input of graph.inputs) if (params.has(input.name)) quantizePair(input.name);

  const quantizedWeights = new Map<string, QuantizedWeight>();
  for (const node of graph.nodes) {
    if (removed.has(node)) continue;
    const inputs = node.inputs.map(resolve).map((name) => dequantized.get(name) ?? name);
    if (quantized.has(node) && (node.opType === 'Conv' || node.opType === 'Gemm')) {
      const weight = quantizeWeightInput(node, initializers, constant, nodes, quantizedWeights, bits);
      inputs[1] = weight.value;
      if (node.inputs[2]) {
        const inputScale = params.get(resolve(node.inputs[0]))?.scale;
        if (inputScale === undefined) throw new Error(`${node.name}: its input is not quantized`);
        inputs[2] = quantizeBiasInput(node, inputScale, weight.scales, initializers, constant, nodes);
      }
    }
    nodes.push({ ...node, inputs });
    for (const output of node.outputs) if (params.has(output)) quantizePair(output);
  }
  const used = new Set(nodes.flatMap((n) => n.inputs));
  return {
    ...graph,
    nodes,
    initializers: [...graph.initializers.filter((t) => used.has(t.name)), ...added],
  };
}

/** Whether a Clip is a ReLU / ReLU6 (lower bound 0). */
function isReluClip(node: NodeProto, initializers: Map<string, TensorProto>): boolean {
  const min = node.inputs[1] ? initializers.get(node.inputs[1]) : undefined;
  return min !== undefined && floatData(min)[0] === 0;
}

type AddConstant = (
  name: string,
  type: TensorProto['dataType'],
  dims: number[],
  data: ArrayBufferView,
) => string;

/** A weight's dequantized value and its per-channel scales. */
interface QuantizedWeight {
  value: string;
  scales: Float32Array;
}

/** The int8 weight of a Conv / Gemm (transB) and its DequantizeLinear, written once per weight (`done`). */
function quantizeWeightInput(
  node: NodeProto,
  initializers: Map<string, TensorProto>,
  constant: AddConstant,
  nodes: NodeProto[],
  done: Map<string, QuantizedWeight>,
  bits: WeightBits,
): QuantizedWeight {
  const name = node.inputs[1];
  const existing = done.get(name);
  if (existing) return existing;
  const weight = initializers.get(name) as TensorProto;
  const channels = weight.dims[0];
  const { values, scales } = quantizeWeights(floatData(weight), channels, bits);
  const q = constant(`${name}:q`, DataType.INT8, weight.dims, values);
  const scale = constant(`${name}:scale`, DataType.FLOAT, [channels], scales);
  const zero = constant(`${name}:zero_point`, DataType.INT8, [channels], new Int8Array(channels));
  const quantized = { value: `${name}:dq`, scales };
  nodes.push(perChannelDequantize(name, [q, scale, zero], quantized.value));
  done.set(name, quantized);
  return quantized;
}

/** The int32 bias (scale = input scale x weight scale per channel) and its DequantizeLinear. */
function quantizeBiasInput(
  node: NodeProto,
  inputScale: number,
  weightScales: Float32Array,
  initializers: Map<string, TensorProto>,
  constant: AddConstant,
  nodes: NodeProto[],
): string {
  const name = node.inputs[2];
  const bias = floatData(initializers.get(name) as TensorProto);
  const scales = weightScales.map((s) => s * inputScale);
  const values = Int32Array.from(bias, (b, c) => Math.round(b / scales[c]));
  const key = `${name}@${node.name}`;
  const q = constant(`${key}:q`, DataType.INT32, [bias.length], values);
  const scale = constant(`${key}:scale`, DataType.FLOAT, [bias.length], scales);
  const zero = constant(`${key}:zero_point`, DataType.INT32, [bias.length], new Int32Array(bias.length));
  const output = `${key}:dq`;
  nodes.push(perChannelDequantize(key, [q, scale, zero], output));
  return output;
}

/** DequantizeLinear of a per-output-channel (axis 0) constant. */
function perChannelDequantize(name: string, inputs: string[], output: string): NodeProto {
  return {
    opType: 'DequantizeLinear',
    name: `${name}/DequantizeLinear`,
    inputs,
    outputs: [output],
    attributes: { axis: { kind: 'int', value: 0 } },
  };
}
