/**
 * The ONNX messages the exporter writes, as plain objects, and their protobuf encoding. Field numbers follow
 * `onnx/onnx.proto` (proto2); only the fields rla-net needs are modelled. Repeated scalars are written unpacked,
 * as a proto2 serializer writes them (parsers accept both forms).
 */
import { ProtoMessage } from './protobuf.js';

/** `TensorProto.DataType` values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** The values of a float32 tensor (a copy of its raw little-endian bytes); an error for another type. */
export function floatData(tensor: TensorProto): Float32Array {
  if (tensor.dataType !== DataType.FLOAT) throw new Error(`tensor ${tensor.name} is not float32`);
  const bytes = tensor.rawData;
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** `AttributeProto.AttributeType`. */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

/** A constant tensor: an initializer, or a TENSOR attribute. Data is little-endian raw bytes. */
export interface TensorProto {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  rawData: Uint8Array;
}

/** An attribute value, tagged with its ONNX attribute type (an integer 1 and a float 1.0 differ in ONNX). */
export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorProto }
  /** A subgraph (If's branches); it may read any value of the graphs around it by name. */
  | { kind: 'graph'; value: GraphProto };

export interface NodeProto {
  opType: string;
  /** Operator domain; absent for the default ONNX domain. */
  domain?: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

/**
 * A node's list-of-ints attribute: `fallback` (or undefined) when absent; an attribute of another kind is an
 * error.
 */
export function intsAttribute(node: NodeProto, name: string): number[] | undefined;
export function intsAttribute(node: NodeProto, name: string, fallback: number[]): number[];
export function intsAttribute(node: NodeProto, name: string, fallback?: number[]): number[] | undefined {
  const attribute = node.attributes[name];
  if (!attribute) return fallback;
  if (attribute.kind !== 'ints') throw new Error(`${node.name}: attribute ${name} is not a list of ints`);
  return attribute.value;
}

/** A dimension: a fixed size or a symbolic name (`batch`). */
export type Dim = number | string;

/** A graph input or output: a tensor of a (partly symbolic) shape, or of unknown shape (null). */
export interface ValueInfoProto {
  name: string;
  elemType: DataTypeCode;
  shape: Dim[] | null;
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
}

export interface ModelProto {
  irVersion: number;
  /** Default-domain opset version. */
  opsetVersion: number;
  /** Opsets of other operator domains the graph uses (ONNX Runtime's `com.microsoft.nchwc`, ...). */
  extraOpsets?: Array<{ domain: string; version: number }>;
  producerName: string;
  producerVersion: string;
  docString: string;
  graph: GraphProto;
  metadata: Record<string, string>;
}

function encodeTensor(tensor: TensorProto): ProtoMessage {
  const message = new ProtoMessage();
  for (const dim of tensor.dims) message.int(1, dim);
  message.int(2, tensor.dataType);
  message.string(8, tensor.name);
  message.bytes(9, tensor.rawData);
  return message;
}

function encodeAttribute(name: string, attribute: AttributeValue): ProtoMessage {
  const message = new ProtoMessage().string(1, name);
  switch (attribute.kind) {
    case 'float':
      message.float(2, attribute.value).int(20, AttributeType.FLOAT);
      break;
    case 'int':
      message.int(3, attribute.value).int(20, AttributeType.INT);
      break;
    case 'string':
      message.string(4, attribute.value).int(20, AttributeType.STRING);
      break;
    case 'tensor':
      message.message(5, encodeTensor(attribute.value)).int(20, AttributeType.TENSOR);
      break;
    case 'graph':
      message.message(6, encodeGraph(attribute.value)).int(20, AttributeType.GRAPH);
      break;
    case 'floats':
      for (const value of attribute.value) message.float(7, value);
      message.int(20, AttributeType.FLOATS);
      break;
    case 'ints':
      for (const value of attribute.value) message.int(8, value);
      message.int(20, AttributeType.INTS);
      break;
  }
  return message;
}

function encodeNode(node: NodeProto): ProtoMessage {
  const message = new ProtoMessage();
  for (const input of node.inputs) message.string(1, input);
  for (const output of node.outputs) message.string(2, output);
  message.string(3, node.name);
  message.string(4, node.opType);
  if (node.domain) message.string(7, node.domain);
  for (const [name, value] of Object.entries(node.attributes))
    message.message(5, encodeAttribute(name, value));
  return message;
}

function encodeValueInfo(info: ValueInfoProto): ProtoMessage {
  const tensorType = new ProtoMessage().int(1, info.elemType);
  if (info.shape) {
    const shape = new ProtoMessage();
    for (const dim of info.shape) {
      const dimension = new ProtoMessage();
      if (typeof dim === 'number') dimension.int(1, dim);
      else dimension.string(2, dim);
      shape.message(1, dimension);
    }
    tensorType.message(2, shape);
  }
  const type = new ProtoMessage().message(1, tensorType);
  return new ProtoMessage().string(1, info.name).message(2, type);
}

function encodeGraph(graph: GraphProto): ProtoMessage {
  const message = new ProtoMessage();
  for (const node of graph.nodes) message.message(1, encodeNode(node));
  message.string(2, graph.name);
  for (const tensor of graph.initializers) message.message(5, encodeTensor(tensor));
  for (const input of graph.inputs) message.message(11, encodeValueInfo(input));
  for (const output of graph.outputs) message.message(12, encodeValueInfo(output));
  return message;
}

/** Serialises a ModelProto to the bytes of an `.onnx` file. */
export function encodeModel(model: ModelProto): Uint8Array {
  const message = new ProtoMessage()
    .int(1, model.irVersion)
    .string(2, model.producerName)
    .string(3, model.producerVersion)
    .string(6, model.docString)
    .message(7, encodeGraph(model.graph))
    .message(8, new ProtoMessage().string(1, '').int(2, model.opsetVersion));
  for (const { domain, version } of model.extraOpsets ?? []) {
    message.message(8, new ProtoMessage().string(1, domain).int(2, version));
  }
  for (const [key, value] of Object.entries(model.metadata)) {
    message.message(14, new ProtoMessage().string(1, key).string(2, value));
  }
  return message.finish();
}

/**
 * The IR version that goes with an opset (onnx/docs/Versioning.md): opsets 13-14 shipped with IR 7, 15-18 with
 * IR 8, 19-20 with IR 9, 21-22 with IR 10, 23+ with IR 11. Using the matching IR keeps older runtimes happy.
 */
export function irVersionForOpset(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}
