/**
 * Writer for zip-format `.pth` files that `torch.load` opens: an OrderedDict of tensors (a
 * `state_dict`), pickled with protocol 2 exactly the way `torch.save` does it, with each storage
 * in its own 64-byte-aligned record.
 */

import { numel } from '../util/shape.js';
import { DTYPE_ITEMSIZE, type TorchDtype } from './dtypes.js';
import { CheckpointError } from './errors.js';
import { writeZip, type ZipInputFile } from './zip.js';

/** One tensor to write: element type, shape and contiguous little-endian data. */
export interface PthTensorInput {
  readonly dtype: TorchDtype;
  readonly shape: readonly number[];
  /** Raw little-endian bytes, or a typed array whose bytes are the row-major elements. */
  readonly data: ArrayBufferView;
}

/** Options of {@link writeTorchCheckpoint}. */
export interface WriteTorchCheckpointOptions {
  /**
   * Folder name inside the archive. `torch.save` uses the file name without its extension;
   * PyTorch does not check it, but it must be a single path segment.
   */
  readonly archiveName: string;
  /**
   * Groups of keys that are one tensor in the model (tied weights). Each group is written as one
   * storage viewed by all its keys, so `torch.load` returns tensors that share memory. Members
   * must have the same dtype, shape and bytes.
   */
  readonly sharedGroups?: readonly (readonly string[])[];
}

/** torch storage class for each dtype. */
const STORAGE_CLASS: Readonly<Record<TorchDtype, string>> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int16: 'ShortStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

/** Just the pickle protocol 2 opcodes torch.save's output uses. */
class Pickler {
  #chunks: number[] = [];
  #parts: Uint8Array[] = [];
  #enc = new TextEncoder();

  #flush(): void {
    if (this.#chunks.length) {
      this.#parts.push(Uint8Array.from(this.#chunks));
      this.#chunks = [];
    }
  }
  op(...codes: number[]): void {
    for (const c of codes) this.#chunks.push(c);
  }
  raw(b: Uint8Array): void {
    this.#flush();
    this.#parts.push(b);
  }
  global(module: string, name: string): void {
    this.op(0x63); // GLOBAL
    this.raw(this.#enc.encode(`${module}\n${name}\n`));
  }
  str(s: string): void {
    const b = this.#enc.encode(s);
    this.op(0x58, b.length & 0xff, (b.length >>> 8) & 0xff, (b.length >>> 16) & 0xff, b.length >>> 24); // BINUNICODE
    this.raw(b);
  }
  int(v: number): void {
    if (!Number.isSafeInteger(v)) throw new CheckpointError(`cannot pickle non-integer ${v}`);
    if (v >= 0 && v < 0x100)
      this.op(0x4b, v); // BININT1
    else if (v >= 0 && v < 0x10000)
      this.op(0x4d, v & 0xff, v >>> 8); // BININT2
    else if (v >= -0x80000000 && v < 0x80000000)
      this.op(0x4a, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    else {
      // LONG1 with an 8-byte two's-complement payload: enough for any safe integer.
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, BigInt(v), true);
      this.op(0x8a, 8, ...b);
    }
  }
  intTuple(vs: readonly number[]): void {
    this.op(0x28); // MARK
    for (const v of vs) this.int(v);
    this.op(0x74); // TUPLE
  }
  bytes(): Uint8Array {
    this.#flush();
    let n = 0;
    for (const p of this.#parts) n += p.length;
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Serialises `entries` as a `torch.save`-compatible zip archive holding an OrderedDict
 * key -> tensor (e.g. a state_dict; use dtype int64 and shape [] for `num_batches_tracked`).
 * Records: `<archiveName>/data.pkl`, `<archiveName>/byteorder`, `<archiveName>/data/<n>`,
 * `<archiveName>/version` (`3`).
 */
export function writeTorchCheckpoint(
  entries: readonly (readonly [string, PthTensorInput])[],
  options: WriteTorchCheckpointOptions,
): Uint8Array {
  const { archiveName } = options;
  if (!/^[A-Za-z0-9._-]+$/.test(archiveName) || archiveName === '.' || archiveName === '..') {
    throw new CheckpointError(
      `archive name ${JSON.stringify(archiveName)} must be a single path segment of [A-Za-z0-9._-]`,
    );
  }
  const byKey = new Map<string, PthTensorInput>();
  for (const [key, t] of entries) {
    if (byKey.has(key)) throw new CheckpointError(`key ${key} appears twice`);
    if (!(t.dtype in DTYPE_ITEMSIZE))
      throw new CheckpointError(`key ${key}: unsupported dtype ${String(t.dtype)}`);
    let elements = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new CheckpointError(`key ${key}: bad shape [${t.shape}]`);
      elements *= d;
    }
    const need = elements * DTYPE_ITEMSIZE[t.dtype];
    if (t.data.byteLength !== need) {
      throw new CheckpointError(
        `key ${key}: shape [${t.shape}] x ${t.dtype} needs ${need} bytes, data has ${t.data.byteLength}`,
      );
    }
    byKey.set(key, t);
  }
  // Map each key to the key that owns its storage (the first member of its tie group).
  const owner = new Map<string, string>();
  for (const group of options.sharedGroups ?? []) {
    if (group.length === 0) continue;
    const first = group[0];
    const ref = byKey.get(first);
    if (!ref) throw new CheckpointError(`shared group member ${first} is not among the entries`);
    for (const key of group) {
      const t = byKey.get(key);
      if (!t) throw new CheckpointError(`shared group member ${key} is not among the entries`);
      if (owner.has(key)) throw new CheckpointError(`key ${key} is in more than one shared group`);
      if (
        t.dtype !== ref.dtype ||
        t.shape.join() !== ref.shape.join() ||
        !sameBytes(bytesOf(t.data), bytesOf(ref.data))
      ) {
        throw new CheckpointError(`shared group: ${key} differs from ${first} in dtype, shape or values`);
      }
      owner.set(key, first);
    }
  }

  const p = new Pickler();
  const storageIds = new Map<string, string>(); // owner key -> storage key
  const files: ZipInputFile[] = [];
  const dataFiles: ZipInputFile[] = [];
  p.op(0x80, 2); // PROTO 2
  p.global('collections', 'OrderedDict');
  p.op(0x29, 0x52); // EMPTY_TUPLE, REDUCE -> OrderedDict()
  p.op(0x28); // MARK for SETITEMS
  for (const [key, t] of byKey) {
    const own = owner.get(key) ?? key;
    let sid = storageIds.get(own);
    if (sid === undefined) {
      sid = String(storageIds.size);
      storageIds.set(own, sid);
      dataFiles.push({ name: `${archiveName}/data/${sid}`, data: bytesOf(t.data) });
    }
    const count = numel(t.shape);
    const stride = new Array<number>(t.shape.length);
    for (let i = t.shape.length - 1, s = 1; i >= 0; i--) {
      stride[i] = s;
      s *= t.shape[i];
    }
    p.str(key);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.op(0x28); // MARK: args of _rebuild_tensor_v2
    // Persistent id ('storage', torch.<Type>Storage, '<n>', 'cpu', numel) -> BINPERSID.
    p.op(0x28);
    p.str('storage');
    p.global('torch', STORAGE_CLASS[t.dtype]);
    p.str(sid);
    p.str('cpu');
    p.int(count);
    p.op(0x74, 0x51); // TUPLE, BINPERSID
    p.int(0); // storage offset
    p.intTuple(t.shape);
    p.intTuple(stride);
    p.op(0x89); // NEWFALSE: requires_grad
    p.global('collections', 'OrderedDict');
    p.op(0x29, 0x52); // backward_hooks = OrderedDict()
    p.op(0x74, 0x52); // TUPLE, REDUCE
  }
  p.op(0x75, 0x2e); // SETITEMS, STOP
  files.push({ name: `${archiveName}/data.pkl`, data: p.bytes() });
  files.push({ name: `${archiveName}/byteorder`, data: new TextEncoder().encode('little') });
  files.push(...dataFiles);
  files.push({ name: `${archiveName}/version`, data: new TextEncoder().encode('3\n') });
  return writeZip(files, { alignment: 64 });
}
