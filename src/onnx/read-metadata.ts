/**
 * The `metadata_props` of an `.onnx` file (ModelProto field 14: key/value strings), read by scanning the
 * top-level protobuf fields without decoding the graph. Bounded: at most 1,000 entries of 1 MB each.
 */
const MAX_ENTRIES = 1000;
const MAX_VALUE_BYTES = 1 << 20;

class Reader {
  position = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly fileName: string,
  ) {}
  get done(): boolean {
    return this.position >= this.bytes.length;
  }
  fail(problem: string): Error {
    return new Error(`${this.fileName}: not an ONNX model (${problem} at byte ${this.position})`);
  }
  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.done) throw this.fail('truncated varint');
      const byte = this.bytes[this.position++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw this.fail('varint too long');
  }
  /** Skips or returns the payload of a field of wire type `wire`. */
  field(wire: number): Uint8Array | null {
    switch (wire) {
      case 0:
        this.varint();
        return null;
      case 1:
        this.position += 8;
        return null;
      case 5:
        this.position += 4;
        return null;
      case 2: {
        const length = this.varint();
        if (this.position + length > this.bytes.length) throw this.fail('field runs past the end');
        const payload = this.bytes.subarray(this.position, this.position + length);
        this.position += length;
        return payload;
      }
      default:
        throw this.fail(`wire type ${wire}`);
    }
  }
}

/** Key/value metadata of the ONNX model in `bytes` (later duplicates win). */
export function readOnnxMetadata(bytes: Uint8Array, fileName = 'model.onnx'): Record<string, string> {
  const metadata: Record<string, string> = {};
  const reader = new Reader(bytes, fileName);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let entries = 0;
  while (!reader.done) {
    const tag = reader.varint();
    const payload = reader.field(tag & 7);
    if (tag >>> 3 !== 14 || payload === null) continue;
    if (++entries > MAX_ENTRIES) throw reader.fail(`more than ${MAX_ENTRIES} metadata entries`);
    const entry = new Reader(payload, fileName);
    let key = '';
    let value = '';
    while (!entry.done) {
      const entryTag = entry.varint();
      const text = entry.field(entryTag & 7);
      if (text === null) continue;
      if (text.length > MAX_VALUE_BYTES) throw entry.fail(`a metadata entry over ${MAX_VALUE_BYTES} bytes`);
      if (entryTag >>> 3 === 1) key = decoder.decode(text);
      else if (entryTag >>> 3 === 2) value = decoder.decode(text);
    }
    metadata[key] = value;
  }
  return metadata;
}

/** The class count an rla-net export records (`rla.num-classes`); an error for other ONNX files. */
export function exportedClassCount(metadata: Record<string, string>, fileName: string): number {
  const count = Number(metadata['rla.num-classes']);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(
      `${fileName} does not say how many classes it outputs (rla.num-classes): not an rla-net export`,
    );
  }
  return count;
}
