/**
 * Element types shared by the PyTorch and safetensors code, and the low-level conversions
 * (float16 / bfloat16 decoding, little-endian element reads) both need.
 */

import { WeightsFormatError } from './errors.js';

/** Tensor element types this package can read and write (PyTorch names). */
export type TorchDtype =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/** Bytes per element of each dtype. */
export const DTYPE_ITEMSIZE: Readonly<Record<TorchDtype, number>> = Object.freeze({
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
});

/** True for the dtypes whose values are integers (bool counts as 0/1). */
export function isIntegerDtype(dtype: TorchDtype): boolean {
  return dtype !== 'float32' && dtype !== 'float64' && dtype !== 'float16' && dtype !== 'bfloat16';
}

// Scratch views for bit-level float conversions; module-level so decoding does not allocate.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Decodes an IEEE-754 binary16 bit pattern (subnormals, infinities and NaN included). */
export function float16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Decodes a bfloat16 bit pattern: it is the upper half of a float32, so the result is exact. */
export function bfloat16BitsToNumber(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0];
}

/** Encodes a number as float16 bits with round-to-nearest-even (used by the writers' tests). */
export function numberToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/**
 * Reads element `index` of a little-endian buffer as a JS number. int64 values outside the
 * safe-integer range throw instead of rounding silently (use the bigint path for those).
 */
export function readElementAsNumber(view: DataView, dtype: TorchDtype, index: number): number {
  switch (dtype) {
    case 'float32':
      return view.getFloat32(index * 4, true);
    case 'float64':
      return view.getFloat64(index * 8, true);
    case 'float16':
      return float16BitsToNumber(view.getUint16(index * 2, true));
    case 'bfloat16':
      return bfloat16BitsToNumber(view.getUint16(index * 2, true));
    case 'int64': {
      const v = view.getBigInt64(index * 8, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new WeightsFormatError(
          `int64 value ${v} is outside the exact JS number range; read it as bigint`,
        );
      }
      return Number(v);
    }
    case 'int32':
      return view.getInt32(index * 4, true);
    case 'int16':
      return view.getInt16(index * 2, true);
    case 'int8':
      return view.getInt8(index);
    case 'uint8':
      return view.getUint8(index);
    case 'bool':
      return view.getUint8(index) !== 0 ? 1 : 0;
  }
}

/** A DataView over exactly the bytes of `bytes` (respecting its byteOffset). */
export function dataViewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** True when the host stores typed arrays little-endian (all mainstream JS engines do). */
export const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
