/**
 * In-memory model of PyTorch tensors read from a checkpoint: a {@link TorchStorage} (a flat,
 * lazily-read buffer shared by every tensor that views it) and {@link TorchTensor} views with
 * shape, stride and storage offset, exactly as PyTorch records them.
 *
 * Nothing is decoded when a checkpoint is parsed; a storage's bytes are fetched (and checked) the
 * first time a tensor viewing it is converted, so buffers nobody uses (optimizer momentum, say)
 * cost nothing.
 */

import { DTYPE_ITEMSIZE, float16BitsToNumber, HOST_LITTLE_ENDIAN, type TorchDtype } from './dtypes.js';
import { CheckpointError, WeightsFormatError } from './errors.js';

/** A flat buffer of `numel` elements of one dtype; shared by all tensors that view it. */
export class TorchStorage {
  #loader: () => Uint8Array;
  #bytes: Uint8Array | undefined;
  #onLoad: ((storage: TorchStorage) => void) | undefined;

  /**
   * @param key storage key in the checkpoint (`data/<key>` record in zip files).
   * @param dtype element type, from the pickled storage class (e.g. `torch.FloatStorage`).
   * @param numel number of elements declared by the checkpoint.
   * @param location device string recorded by torch.save (e.g. `cpu`, `cuda:0`); informational.
   * @param loader returns the raw bytes; called at most once, on first use.
   * @param context prefix for error messages (usually the file name).
   * @param onLoad observer called once when the bytes are first fetched (instrumentation).
   * @param base the storage this one is a view of (legacy files only); itself otherwise.
   */
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    readonly numel: number,
    readonly location: string,
    loader: () => Uint8Array,
    readonly context = '',
    onLoad?: (storage: TorchStorage) => void,
    base?: TorchStorage,
  ) {
    this.#loader = loader;
    this.#onLoad = onLoad;
    this.base = base ?? this;
  }

  /** The underlying root storage (differs from `this` only for legacy storage views). */
  readonly base: TorchStorage;

  /** Size in bytes (`numel * itemsize`). */
  get byteLength(): number {
    return this.numel * DTYPE_ITEMSIZE[this.dtype];
  }

  /** Whether the bytes have been fetched yet. */
  get isLoaded(): boolean {
    return this.#bytes !== undefined;
  }

  /**
   * The storage's little-endian bytes (exactly `byteLength` of them, a view, not a copy). Fetched
   * on first call; a record shorter than `numel * itemsize` is a {@link CheckpointError}.
   */
  bytes(): Uint8Array {
    if (this.#bytes) return this.#bytes;
    let raw: Uint8Array;
    try {
      raw = this.#loader();
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      const err = new CheckpointError(`${this.context}storage ${this.key}: ${msg}`);
      (err as { cause?: unknown }).cause = e;
      throw err;
    }
    if (raw.length < this.byteLength) {
      throw new CheckpointError(
        `${this.context}storage ${this.key} is truncated: ${this.numel} x ${this.dtype} needs ${this.byteLength} bytes, found ${raw.length}`,
      );
    }
    this.#bytes = raw.subarray(0, this.byteLength);
    this.#onLoad?.(this);
    return this.#bytes;
  }
}

/** Typed array classes used for each dtype's raw storage (half types as raw 16-bit patterns). */
type RawArray =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

function rawArray(dtype: TorchDtype, buf: ArrayBuffer, byteOffset: number, length: number): RawArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf, byteOffset, length);
    case 'float64':
      return new Float64Array(buf, byteOffset, length);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf, byteOffset, length);
    case 'int64':
      return new BigInt64Array(buf, byteOffset, length);
    case 'int32':
      return new Int32Array(buf, byteOffset, length);
    case 'int16':
      return new Int16Array(buf, byteOffset, length);
    case 'int8':
      return new Int8Array(buf, byteOffset, length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf, byteOffset, length);
  }
}

/** The storage as a typed array; copies only when the bytes are not aligned for the type. */
function storageArray(storage: TorchStorage): RawArray {
  if (!HOST_LITTLE_ENDIAN) throw new WeightsFormatError('big-endian hosts are not supported');
  const bytes = storage.bytes();
  const size = DTYPE_ITEMSIZE[storage.dtype];
  // Typed arrays need element-aligned offsets; zip records are 64-aligned in PyTorch files, but a
  // caller's buffer may start anywhere, so fall back to an aligned copy.
  if (bytes.byteOffset % size === 0)
    return rawArray(storage.dtype, bytes.buffer as ArrayBuffer, bytes.byteOffset, storage.numel);
  const copy = bytes.slice();
  return rawArray(storage.dtype, copy.buffer, 0, storage.numel);
}

function newLike(src: RawArray, length: number): RawArray {
  const Ctor = src.constructor as new (n: number) => RawArray;
  return new Ctor(length);
}

/**
 * A tensor as PyTorch stores it: a strided view (`shape`, `stride`, `storageOffset`, all in
 * elements) into a shared {@link TorchStorage}.
 */
export class TorchTensor {
  /**
   * Validates the view against the storage's declared size, so a corrupt shape or stride is
   * reported when the checkpoint is parsed rather than as garbage later.
   */
  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad = false,
  ) {
    const where = `${storage.context}tensor on storage ${storage.key}`;
    const isIndex = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!isIndex(storageOffset))
      throw new CheckpointError(`${where}: bad storage offset ${String(storageOffset)}`);
    if (shape.length !== stride.length) {
      throw new CheckpointError(`${where}: shape [${shape}] and stride [${stride}] have different lengths`);
    }
    let numel = 1;
    let last = storageOffset;
    for (let i = 0; i < shape.length; i++) {
      if (!isIndex(shape[i]) || !isIndex(stride[i])) {
        throw new CheckpointError(`${where}: bad shape [${shape}] or stride [${stride}]`);
      }
      numel *= shape[i];
      last += (shape[i] - 1) * stride[i];
    }
    if (!Number.isSafeInteger(numel)) throw new CheckpointError(`${where}: shape [${shape}] is too large`);
    if (numel > 0 && last >= storage.numel) {
      throw new CheckpointError(
        `${where}: view (offset ${storageOffset}, shape [${shape}], stride [${stride}]) reaches element ${last} of a ${storage.numel}-element storage`,
      );
    }
    this.numel = numel;
  }

  /** Number of elements (product of the shape; 1 for a 0-dim tensor). */
  readonly numel: number;

  /** Element type (that of the storage). */
  get dtype(): TorchDtype {
    return this.storage.dtype;
  }

  /** True when the view is row-major contiguous, i.e. a plain slice of the storage. */
  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.stride[i] !== expected) return false;
      expected *= this.shape[i];
    }
    return true;
  }

  /** Row-major copy of the elements in the storage's own representation. */
  #gather(): RawArray {
    const src = storageArray(this.storage);
    if (this.isContiguous()) return src.slice(this.storageOffset, this.storageOffset + this.numel);
    const dst = newLike(src, this.numel);
    const { shape, stride } = this;
    const nd = shape.length;
    const idx = new Array<number>(nd).fill(0);
    const innerN = shape[nd - 1];
    const innerS = stride[nd - 1];
    let base = this.storageOffset;
    // Walk all but the last dimension with an odometer; copy the last dimension in a tight loop.
    for (let out = 0; out < this.numel; out += innerN) {
      for (let j = 0, s = base; j < innerN; j++, s += innerS)
        (dst as Float64Array)[out + j] = (src as Float64Array)[s];
      for (let d = nd - 2; d >= 0; d--) {
        idx[d]++;
        base += stride[d];
        if (idx[d] < shape[d]) break;
        base -= stride[d] * shape[d];
        idx[d] = 0;
      }
    }
    return dst;
  }

  /**
   * Contiguous float32 copy honouring stride and offset. float16 / bfloat16 / float64 / ints are
   * converted (float64 and large ints round to the nearest float32, as `tensor.float()` does).
   */
  toFloat32Array(): Float32Array {
    const raw = this.#gather();
    switch (this.dtype) {
      case 'float32':
        return raw as Float32Array;
      case 'float16': {
        const out = new Float32Array(raw.length);
        for (let i = 0; i < raw.length; i++) out[i] = float16BitsToNumber((raw as Uint16Array)[i]);
        return out;
      }
      case 'bfloat16': {
        // bfloat16 is the top half of a float32: shift the bits into place, no arithmetic.
        const bits = new Uint32Array(raw.length);
        for (let i = 0; i < raw.length; i++) bits[i] = (raw as Uint16Array)[i] << 16;
        return new Float32Array(bits.buffer);
      }
      case 'int64': {
        const out = new Float32Array(raw.length);
        for (let i = 0; i < raw.length; i++) out[i] = Number((raw as BigInt64Array)[i]);
        return out;
      }
      case 'bool': {
        const out = new Float32Array(raw.length);
        for (let i = 0; i < raw.length; i++) out[i] = (raw as Uint8Array)[i] ? 1 : 0;
        return out;
      }
      default:
        return Float32Array.from(raw as Float64Array);
    }
  }

  /** Contiguous float64 copy (exact for every dtype except int64 beyond 2^53, which throws). */
  toFloat64Array(): Float64Array {
    if (this.dtype === 'int64') return Float64Array.from(this.toNumberArray());
    if (this.dtype === 'float64') return this.#gather() as Float64Array;
    if (this.dtype === 'float16' || this.dtype === 'bfloat16')
      return Float64Array.from(this.toFloat32Array());
    if (this.dtype === 'bool') return Float64Array.from(this.#gather() as Uint8Array, (v) => (v ? 1 : 0));
    return Float64Array.from(this.#gather() as Float32Array);
  }

  /** Contiguous int64 copy of an integer or bool tensor, exact. */
  toBigInt64Array(): BigInt64Array {
    this.#requireInteger('toBigInt64Array');
    const raw = this.#gather();
    if (raw instanceof BigInt64Array) return raw;
    const out = new BigInt64Array(raw.length);
    const isBool = this.dtype === 'bool';
    for (let i = 0; i < raw.length; i++) {
      const v = (raw as Int32Array)[i];
      out[i] = isBool ? (v ? 1n : 0n) : BigInt(v);
    }
    return out;
  }

  /**
   * Integer or bool tensor as JS numbers. int64 values beyond +-2^53 throw a
   * {@link CheckpointError} instead of rounding; use {@link toBigInt64Array} for those.
   */
  toNumberArray(): number[] {
    this.#requireInteger('toNumberArray');
    const raw = this.#gather();
    const out = new Array<number>(raw.length);
    if (raw instanceof BigInt64Array) {
      for (let i = 0; i < raw.length; i++) {
        const v = raw[i];
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new CheckpointError(
            `${this.storage.context}storage ${this.storage.key}: int64 value ${v} cannot be represented exactly as a JS number; use toBigInt64Array()`,
          );
        }
        out[i] = Number(v);
      }
    } else if (this.dtype === 'bool') {
      for (let i = 0; i < raw.length; i++) out[i] = (raw as Uint8Array)[i] ? 1 : 0;
    } else {
      for (let i = 0; i < raw.length; i++) out[i] = (raw as Int32Array)[i];
    }
    return out;
  }

  /**
   * The single value of a one-element tensor (e.g. a 0-dim `best_acc1`): a number, or a bigint
   * for int64 values beyond 2^53.
   */
  item(): number | bigint {
    if (this.numel !== 1)
      throw new CheckpointError(`item() needs a one-element tensor, shape is [${this.shape}]`);
    if (this.dtype === 'int64') {
      const v = this.toBigInt64Array()[0];
      return v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER) ? v : Number(v);
    }
    return this.toFloat64Array()[0];
  }

  /** Contiguous little-endian bytes of the elements (a fresh copy), e.g. to write safetensors. */
  toBytes(): Uint8Array {
    const raw = this.#gather();
    return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  }

  #requireInteger(what: string): void {
    if (this.dtype.startsWith('float') || this.dtype === 'bfloat16') {
      throw new CheckpointError(
        `${what}() needs an integer tensor; storage ${this.storage.key} is ${this.dtype}`,
      );
    }
  }
}

/** True when two tensors view the same underlying storage (tied weights, views, slices). */
export function sameStorage(a: TorchTensor, b: TorchTensor): boolean {
  return a.storage.base === b.storage.base;
}
