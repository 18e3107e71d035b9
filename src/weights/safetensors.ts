/**
 * safetensors reader and writer.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON header
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}`), then
 * the data buffer; offsets are relative to the start of the data buffer. The reader validates the
 * whole header before handing out zero-copy views, so a bad file is a {@link SafetensorsError}
 * naming the tensor at fault.
 */

import { describeValue, formatShape, truncateText } from '../util/bounded-text.js';
import { numel } from '../util/shape.js';
import { DTYPE_ITEMSIZE, dataViewOf, readElementAsNumber, type TorchDtype } from './dtypes.js';
import { SafetensorsError } from './errors.js';

/** Element types of the safetensors format that this package supports. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** safetensors dtype -> PyTorch dtype name. */
export const SAFETENSORS_TO_TORCH: Readonly<Record<SafetensorsDtype, TorchDtype>> = Object.freeze({
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
});

/** PyTorch dtype name -> safetensors dtype. */
export const TORCH_TO_SAFETENSORS: Readonly<Record<TorchDtype, SafetensorsDtype>> = Object.freeze(
  Object.fromEntries(Object.entries(SAFETENSORS_TO_TORCH).map(([k, v]) => [v, k])) as Record<
    TorchDtype,
    SafetensorsDtype
  >,
);

/** One tensor of a safetensors file. `data` is a view into the file's bytes (little-endian). */
export interface SafetensorsTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  /** Tensors in the order their data appears in the file. */
  readonly tensors: Map<string, SafetensorsTensor>;
  /** The `__metadata__` string map (empty when absent). */
  readonly metadata: Record<string, string>;
}

// Generous but finite: real headers are kilobytes; this stops a forged length from allocating GBs.
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function isDtype(v: unknown): v is SafetensorsDtype {
  return typeof v === 'string' && Object.hasOwn(SAFETENSORS_TO_TORCH, v);
}

function itemsize(dtype: SafetensorsDtype): number {
  return DTYPE_ITEMSIZE[SAFETENSORS_TO_TORCH[dtype]];
}

function isDim(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and validates a safetensors file held in memory. Tensor data are views, not copies. `fileName`, when
 * given, starts every error message, so a user with several files knows which one is bad.
 */
export function readSafetensors(bytes: Uint8Array, fileName?: string): SafetensorsFile {
  try {
    return parseSafetensors(bytes);
  } catch (error) {
    if (fileName === undefined || !(error instanceof SafetensorsError)) throw error;
    throw new SafetensorsError(`${fileName}: ${error.message}`);
  }
}

function parseSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8)
    throw new SafetensorsError(`file too short for a safetensors header: ${bytes.length} bytes`);
  const dv = dataViewOf(bytes);
  const headerLen = dv.getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(bytes.length - 8, MAX_HEADER_BYTES))) {
    throw new SafetensorsError(
      `header length ${headerLen} exceeds the file (${bytes.length - 8} bytes after the length field)`,
    );
  }
  const n = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError('header is not a JSON object');
  }
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const found: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new SafetensorsError('__metadata__ is not an object of strings');
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string')
          throw new SafetensorsError(`__metadata__ value of ${truncateText(k)} is not a string`);
        Object.defineProperty(metadata, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      continue;
    }
    // Names and values come from the file: messages echo them bounded.
    const tensor = `tensor ${truncateText(name)}`;
    if (value === null || typeof value !== 'object')
      throw new SafetensorsError(`${tensor}: entry is not an object`);
    const { dtype, shape, data_offsets: offs } = value as Record<string, unknown>;
    if (!isDtype(dtype)) throw new SafetensorsError(`${tensor}: unknown dtype ${describeValue(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isDim))
      throw new SafetensorsError(`${tensor}: bad shape ${describeValue(shape)}`);
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !isDim(offs[0]) ||
      !isDim(offs[1]) ||
      offs[0] > offs[1]
    ) {
      throw new SafetensorsError(`${tensor}: bad data_offsets ${describeValue(offs)}`);
    }
    const [begin, end] = offs as number[];
    if (end > dataLen)
      throw new SafetensorsError(
        `${tensor}: data_offsets [${begin}, ${end}] exceed the ${dataLen}-byte data section`,
      );
    const bytes = numel(shape) * itemsize(dtype);
    if (!Number.isSafeInteger(bytes) || bytes !== end - begin) {
      throw new SafetensorsError(
        `${tensor}: shape ${formatShape(shape)} x ${dtype} needs ${bytes} bytes but data_offsets span ${end - begin}`,
      );
    }
    found.push({ name, dtype, shape: shape.slice(), begin, end });
  }
  // The data section must be covered exactly, without gaps or overlaps, as the reference
  // implementation requires; anything else is corruption or a smuggled payload.
  found.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of found) {
    if (t.begin !== cursor) {
      throw new SafetensorsError(
        t.begin < cursor
          ? `tensor ${truncateText(t.name)}: data [${t.begin}, ${t.end}] overlaps the previous tensor (ends at ${cursor})`
          : `tensor ${truncateText(t.name)}: gap in the data section before byte ${t.begin} (previous tensor ends at ${cursor})`,
      );
    }
    cursor = t.end;
  }
  if (cursor !== dataLen)
    throw new SafetensorsError(
      `data section has ${dataLen - cursor} trailing bytes not covered by any tensor`,
    );
  const tensors = new Map<string, SafetensorsTensor>();
  for (const t of found) {
    tensors.set(t.name, {
      dtype: t.dtype,
      shape: t.shape,
      data: bytes.subarray(dataStart + t.begin, dataStart + t.end),
    });
  }
  return { tensors, metadata };
}

/** Input tensor of {@link writeSafetensors}: raw little-endian bytes or a typed array of the data. */
export interface SafetensorsInput {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: ArrayBufferView;
}

/**
 * Serialises tensors (in the given order) and string metadata. The header is padded with spaces
 * to a multiple of 8 bytes so that data is 8-byte aligned, as the reference writer does.
 */
export function writeSafetensors(
  tensors: Iterable<readonly [string, SafetensorsInput]> | ReadonlyMap<string, SafetensorsInput>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new SafetensorsError(`metadata value of ${k} is not a string`);
    meta[k] = v;
  }
  if (Object.keys(meta).length > 0) header.__metadata__ = meta;
  const parts: Uint8Array[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new SafetensorsError('tensor name __metadata__ is reserved');
    if (names.has(name)) throw new SafetensorsError(`tensor ${name} appears twice`);
    names.add(name);
    if (!isDtype(t.dtype)) throw new SafetensorsError(`tensor ${name}: unknown dtype ${String(t.dtype)}`);
    if (!t.shape.every(isDim)) throw new SafetensorsError(`tensor ${name}: bad shape [${t.shape}]`);
    const data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const need = numel(t.shape) * itemsize(t.dtype);
    if (data.length !== need) {
      throw new SafetensorsError(
        `tensor ${name}: shape [${t.shape}] x ${t.dtype} needs ${need} bytes, data has ${data.length}`,
      );
    }
    Object.defineProperty(header, name, {
      value: { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + data.length] },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    parts.push(data);
    offset += data.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes a tensor's data to float32 (float16 / bfloat16 / float64 / ints converted). */
export function safetensorToFloat32Array(t: SafetensorsTensor): Float32Array {
  const dtype = SAFETENSORS_TO_TORCH[t.dtype];
  const n = t.data.length / DTYPE_ITEMSIZE[dtype];
  if (dtype === 'float32' && t.data.byteOffset % 4 === 0)
    return new Float32Array(t.data.buffer, t.data.byteOffset, n).slice();
  const out = new Float32Array(n);
  const dv = dataViewOf(t.data);
  if (dtype === 'int64') {
    for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = readElementAsNumber(dv, dtype, i);
  return out;
}
