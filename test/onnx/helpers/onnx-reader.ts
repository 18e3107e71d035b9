/**
 * A minimal protobuf / ONNX reader for the tests: decodes what src/onnx writes (and what ONNX Runtime writes
 * back as an optimized model) independently of the writer, so round trips check the encoding, not just
 * symmetry. Only the fields the tests look at are decoded.
 */

interface Field {
  field: number;
  wireType: number;
  /** varint value (bigint), fixed32/fixed64 bytes, or length-delimited bytes. */
  value: bigint | Uint8Array;
}

function readVarint(bytes: Uint8Array, offset: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (offset >= bytes.length) throw new Error('protobuf: truncated varint');
    const byte = bytes[offset++];
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, offset];
    shift += 7n;
  }
}

/** All fields of one message, in order. */
export function readFields(bytes: Uint8Array): Field[] {
  const fields: Field[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const [key, afterKey] = readVarint(bytes, offset);
    offset = afterKey;
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (wireType === 0) {
      const [value, next] = readVarint(bytes, offset);
      fields.push({ field, wireType, value });
      offset = next;
    } else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      fields.push({ field, wireType, value: bytes.subarray(offset, offset + size) });
      offset += size;
    } else if (wireType === 2) {
      const [length, next] = readVarint(bytes, offset);
      const end = next + Number(length);
      if (end > bytes.length) throw new Error('protobuf: length-delimited field runs past the end');
      fields.push({ field, wireType, value: bytes.subarray(next, end) });
      offset = end;
    } else {
      throw new Error(`protobuf: unsupported wire type ${wireType}`);
    }
  }
  return fields;
}

const text = new TextDecoder();
const strings = (fields: Field[], n: number) =>
  fields.filter((f) => f.field === n).map((f) => text.decode(f.value as Uint8Array));
const messages = (fields: Field[], n: number) =>
  fields.filter((f) => f.field === n).map((f) => readFields(f.value as Uint8Array));
const int = (fields: Field[], n: number) => {
  const found = fields.find((f) => f.field === n);
  return found ? BigInt.asIntN(64, found.value as bigint) : undefined;
};

export interface DecodedAttribute {
  name: string;
  type: number;
  i?: bigint;
  f?: number;
  ints: bigint[];
}

export interface DecodedNode {
  opType: string;
  /** Operator domain ('' for the default ONNX domain). */
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, DecodedAttribute>;
}

export interface DecodedValueInfo {
  name: string;
  elemType: number;
  /** dim_value as number or dim_param as string; null when no shape is given. */
  shape: Array<number | string> | null;
}

export interface DecodedTensor {
  name: string;
  dataType: number;
  dims: number[];
  rawData: Uint8Array;
}

export interface DecodedModel {
  irVersion: number;
  producerName: string;
  opsets: Array<{ domain: string; version: number }>;
  nodes: DecodedNode[];
  initializers: DecodedTensor[];
  inputs: DecodedValueInfo[];
  outputs: DecodedValueInfo[];
  metadata: Map<string, string>;
}

function decodeAttribute(fields: Field[]): DecodedAttribute {
  const f = fields.find((x) => x.field === 2);
  const ints: bigint[] = [];
  for (const field of fields.filter((x) => x.field === 8)) {
    if (field.wireType === 0) ints.push(BigInt.asIntN(64, field.value as bigint));
    else {
      // Packed encoding (what other writers may use).
      const packed = field.value as Uint8Array;
      for (let offset = 0; offset < packed.length; ) {
        const [value, next] = readVarint(packed, offset);
        ints.push(BigInt.asIntN(64, value));
        offset = next;
      }
    }
  }
  return {
    name: strings(fields, 1)[0],
    type: Number(int(fields, 20) ?? 0n),
    i: int(fields, 3),
    f: f
      ? new DataView((f.value as Uint8Array).buffer, (f.value as Uint8Array).byteOffset, 4).getFloat32(
          0,
          true,
        )
      : undefined,
    ints,
  };
}

function decodeValueInfo(fields: Field[]): DecodedValueInfo {
  const tensorType = messages(messages(fields, 2)[0] ?? [], 1)[0] ?? [];
  const shapeMessage = messages(tensorType, 2)[0];
  return {
    name: strings(fields, 1)[0],
    elemType: Number(int(tensorType, 1) ?? 0n),
    shape: shapeMessage
      ? messages(shapeMessage, 1).map((dim) => {
          const value = int(dim, 1);
          return value !== undefined ? Number(value) : strings(dim, 2)[0];
        })
      : null,
  };
}

/** Decodes the parts of an `.onnx` file the tests inspect. */
export function readOnnxModel(bytes: Uint8Array): DecodedModel {
  const model = readFields(bytes);
  const graph = messages(model, 7)[0] ?? [];
  return {
    irVersion: Number(int(model, 1) ?? 0n),
    producerName: strings(model, 2)[0] ?? '',
    opsets: messages(model, 8).map((m) => ({
      domain: strings(m, 1)[0] ?? '',
      version: Number(int(m, 2) ?? 0n),
    })),
    nodes: messages(graph, 1).map((node) => ({
      opType: strings(node, 4)[0],
      domain: strings(node, 7)[0] ?? '',
      name: strings(node, 3)[0] ?? '',
      inputs: strings(node, 1),
      outputs: strings(node, 2),
      attributes: new Map(
        messages(node, 5)
          .map(decodeAttribute)
          .map((a) => [a.name, a] as const),
      ),
    })),
    initializers: messages(graph, 5).map((tensor) => ({
      name: strings(tensor, 8)[0],
      dataType: Number(int(tensor, 2) ?? 0n),
      dims: tensor.filter((f) => f.field === 1).map((f) => Number(BigInt.asIntN(64, f.value as bigint))),
      rawData: (tensor.find((f) => f.field === 9)?.value as Uint8Array) ?? new Uint8Array(0),
    })),
    inputs: messages(graph, 11).map(decodeValueInfo),
    outputs: messages(graph, 12).map(decodeValueInfo),
    metadata: new Map(messages(model, 14).map((m) => [strings(m, 1)[0], strings(m, 2)[0]] as const)),
  };
}

/** Count of nodes per op type, prefixed by a non-default domain, e.g. { Conv: 53, 'com.microsoft:FusedConv': 4 }. */
export function opHistogram(model: DecodedModel): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of model.nodes) {
    const key = node.domain ? `${node.domain}:${node.opType}` : node.opType;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
