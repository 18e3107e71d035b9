/**
 * Per-channel layers as depthwise convolutions before quantization, so ONNX Runtime runs them with its vectorised
 * depthwise QLinearConv, channels-last like the convs around them. Measured on dsRLA-MobileNetV2's int8 batch of
 * 16 at 224x224 (kernel time per run, ONNX Runtime's profile):
 * - AveragePool(k, stride s, no padding) over C channels is Conv(group C, weights 1/k^2 [C, 1, k, k], stride s):
 *   QLinearAveragePool is a slow generic kernel (9.5 of 61 ms went to pooling h 2x2); 1/k^2 = 1/4 is exact in
 *   per-channel int8 (127 steps of 1/508). 61 -> 53 ms.
 * - The RLA update's inference BatchNorm (on h + conv_out(y), which no conv can absorb) is Conv(group C, weights
 *   gamma / sqrt(var + eps) [C, 1, 1, 1], bias beta - mean * weight): BatchNormalization has no integer kernel
 *   and runs channels-first in float32, with a Transpose on either side (8 ms). 53 -> 48 ms. Its output is then
 *   quantized before tanh, one more rounding on the k-channel state.
 * The float function is unchanged up to rounding.
 */
import {
  DataType,
  floatData,
  type GraphProto,
  intsAttribute,
  type NodeProto,
  type TensorProto,
} from '../onnx/onnx-proto.js';
import { affineOfStatistics } from '../onnx/weights.js';

/** Every 2-D AveragePool without padding or ceil mode whose channel count is known becomes a depthwise Conv. */
export function averagePoolsAsDepthwiseConvs(
  graph: GraphProto,
  channelsOf: (value: string) => number | undefined,
): GraphProto {
  const added: TensorProto[] = [];
  const nodes = graph.nodes.map((node) => {
    if (node.opType !== 'AveragePool') return node;
    const kernel = intsAttribute(node, 'kernel_shape');
    const pads = intsAttribute(node, 'pads') ?? [0, 0, 0, 0];
    const channels = channelsOf(node.inputs[0]);
    const ceil = node.attributes.ceil_mode?.value ?? 0;
    if (kernel?.length !== 2 || pads.some((p) => p !== 0) || ceil !== 0 || !channels) return node;
    const taps = kernel[0] * kernel[1];
    const weight: TensorProto = {
      name: `${node.name}:as-conv.weight`,
      dataType: DataType.FLOAT,
      dims: [channels, 1, kernel[0], kernel[1]],
      rawData: new Uint8Array(new Float32Array(channels * taps).fill(1 / taps).buffer),
    };
    added.push(weight);
    const strides = intsAttribute(node, 'strides') ?? [1, 1];
    return {
      opType: 'Conv',
      name: `${node.name}:as-conv`,
      inputs: [node.inputs[0], weight.name],
      outputs: node.outputs,
      attributes: {
        kernel_shape: { kind: 'ints', value: kernel },
        strides: { kind: 'ints', value: strides },
        group: { kind: 'int', value: channels },
      },
    } satisfies NodeProto;
  });
  return { ...graph, nodes, initializers: [...graph.initializers, ...added] };
}

/** Every inference BatchNormalization whose statistics and affine parameters are constants becomes a depthwise Conv. */
export function batchNormsAsDepthwiseConvs(graph: GraphProto): GraphProto {
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const added: TensorProto[] = [];
  const nodes = graph.nodes.map((node) => {
    if (node.opType !== 'BatchNormalization' || node.outputs.length !== 1) return node;
    const [gamma, beta, mean, variance] = node.inputs.slice(1).map((name) => initializers.get(name));
    if (!gamma || !beta || !mean || !variance) return node;
    const epsilon = node.attributes.epsilon?.kind === 'float' ? node.attributes.epsilon.value : 1e-5;
    const [g, b, m, v] = [gamma, beta, mean, variance].map(floatData);
    const { scale, shift } = affineOfStatistics(g, b, m, v, epsilon);
    const channels = g.length;
    const weight = Float32Array.from(scale);
    const bias = Float32Array.from(shift);
    const tensor = (suffix: string, dims: number[], data: Float32Array): TensorProto => ({
      name: `${node.name}:as-conv.${suffix}`,
      dataType: DataType.FLOAT,
      dims,
      rawData: new Uint8Array(data.buffer),
    });
    const weightTensor = tensor('weight', [channels, 1, 1, 1], weight);
    const biasTensor = tensor('bias', [channels], bias);
    added.push(weightTensor, biasTensor);
    return {
      opType: 'Conv',
      name: `${node.name}:as-conv`,
      inputs: [node.inputs[0], weightTensor.name, biasTensor.name],
      outputs: node.outputs,
      attributes: { kernel_shape: { kind: 'ints', value: [1, 1] }, group: { kind: 'int', value: channels } },
    } satisfies NodeProto;
  });
  return { ...graph, nodes, initializers: [...graph.initializers, ...added] };
}
