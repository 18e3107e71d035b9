/**
 * A minimal protocol-buffers wire-format writer: just what ONNX's messages need (varint/int64, float32, strings,
 * bytes, nested messages). No library: the ONNX writer uses seven messages and a few field kinds, and a
 * dependency-free writer keeps the package small and works in browsers as is.
 *
 * Messages are built as a list of chunks and the nested lengths are computed from them, so large payloads
 * (raw tensor data, ~100 MB for a ResNet-50) are copied exactly once, into the final buffer.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const textEncoder = new TextEncoder();

/** Varint bytes of a non-negative safe integer, or of a negative one as 64-bit two's complement (10 bytes). */
export function encodeVarint(value: number | bigint): Uint8Array {
  let v = typeof value === 'bigint' ? value : BigInt(value);
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new Error(`protobuf: varint value ${value} is not a safe integer`);
  }
  // Negative int32/int64 values are encoded as their unsigned 64-bit two's complement, always 10 bytes.
  if (v < 0n) v = BigInt.asUintN(64, v);
  const bytes: number[] = [];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Uint8Array.from(bytes);
}

/** A message under construction: fields are appended in call order (protobuf allows any order). */
export class ProtoMessage {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  /** Encoded size in bytes. */
  get byteLength(): number {
    return this.length;
  }

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private tag(field: number, wireType: number): void {
    this.push(encodeVarint(field * 8 + wireType));
  }

  /** int32 / int64 / enum / bool field (varint). */
  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.push(encodeVarint(value));
    return this;
  }

  /** float field (fixed32, little-endian IEEE 754). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.push(bytes);
    return this;
  }

  /** double field (fixed64, little-endian IEEE 754). */
  double(field: number, value: number): this {
    this.tag(field, WIRE_FIXED64);
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, true);
    this.push(bytes);
    return this;
  }

  /** bytes field; `value` is referenced, not copied, until `finish()`. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.push(encodeVarint(value.length));
    if (value.length > 0) this.push(value);
    return this;
  }

  /** string field (UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** Embedded message field; `message` must not change afterwards. */
  message(field: number, message: ProtoMessage): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.push(encodeVarint(message.length));
    for (const chunk of message.chunks) this.push(chunk);
    return this;
  }

  /** The encoded message in one buffer. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}
