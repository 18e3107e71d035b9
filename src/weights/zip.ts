/**
 * Minimal ZIP reader and writer, just enough for PyTorch `.pth` archives.
 *
 * The reader trusts nothing: every offset and size is checked against the buffer before use, so a
 * damaged file yields a {@link ZipError} naming the entry, never a RangeError or a hang. Stored
 * records are returned as zero-copy views; deflated records are inflated with fflate. Zip bombs are
 * refused before anything is inflated: each central-directory entry must own its byte range (no
 * two entries may share or overlap a local record, the trick that makes one deflated record count
 * many times), and the bytes inflated from one archive stay within a budget proportional to its
 * size, checked from the declared sizes before any allocation.
 *
 * The writer produces stored (uncompressed) records whose data starts on a 64-byte boundary, the
 * way PyTorch's own writer does (padding via an extra field with id "FB"), so that PyTorch can
 * memory-map tensor data straight out of the archive.
 */

import { Inflate } from 'fflate';
import { crc32 } from './crc32.js';
import { ZipError } from './errors.js';

/** One record of a ZIP archive as described by its central directory. */
export interface ZipEntry {
  /** Path inside the archive (UTF-8 or CP437 bytes decoded as UTF-8). */
  readonly name: string;
  /** Compression method: 0 = stored, 8 = deflate (others are rejected when read). */
  readonly method: number;
  /** CRC-32 of the uncompressed data, from the central directory. */
  readonly crc32: number;
  /** Size of the record's data in the archive. */
  readonly compressedSize: number;
  /** Size of the data after decompression. */
  readonly uncompressedSize: number;
  /** Offset of the record's local header from the start of the buffer. */
  readonly localHeaderOffset: number;
}

/** A parsed archive: its entries in central-directory order plus a by-name lookup. */
export interface ZipArchive {
  /** Entries in central-directory order. */
  readonly entries: readonly ZipEntry[];
  /** Looks an entry up by its exact name. */
  get(name: string): ZipEntry | undefined;
  /**
   * The entry's uncompressed bytes. Stored records are views into the archive buffer (no copy).
   * The CRC is checked unless `verifyCrc` is false (checking costs one pass over the data).
   * Deflated records count against the archive's inflation budget ({@link ZipReadOptions}).
   */
  read(entry: ZipEntry, options?: { verifyCrc?: boolean }): Uint8Array;
}

/** Options of {@link readZip}. */
export interface ZipReadOptions {
  /**
   * Most bytes that reading may inflate from deflated records, all entries and reads together.
   * Default {@link defaultInflateBudget} of the archive size; raise it for a legitimately huge,
   * highly compressible file (Infinity lifts the cap). Stored records cost nothing: they are views.
   */
  readonly maxInflatedBytes?: number;
}

/** Inflation every archive may use whatever its size. */
const INFLATE_BUDGET_FLOOR = 64 * 1024 * 1024;
/**
 * Inflated bytes allowed per archive byte beyond the floor. Tensor data barely compresses (float
 * weights deflate to ~90%), so real checkpoints stay far below; deflate's own limit (~1032x) is
 * what a bomb of zeros reaches.
 */
const INFLATE_BUDGET_RATIO = 8;

/** The default inflation budget of an archive of `archiveBytes` bytes: 64 MiB + 8 x its size. */
export function defaultInflateBudget(archiveBytes: number): number {
  return INFLATE_BUDGET_FLOOR + INFLATE_BUDGET_RATIO * archiveBytes;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
// Deflate cannot expand data by more than ~1032x; larger claims are forged sizes (zip bombs).
const MAX_DEFLATE_RATIO = 1032;

const utf8 = new TextDecoder('utf-8');

/** True when `bytes` starts with a ZIP local-file-header signature ("PK\x03\x04"). */
export function isZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
  );
}

// Little-endian readers that bounds-check, so truncation surfaces as a ZipError with context.
function u16(b: Uint8Array, at: number, what: string): number {
  if (at < 0 || at + 2 > b.length) throw new ZipError(`truncated archive: ${what} extends past end of file`);
  return b[at] | (b[at + 1] << 8);
}
function u32(b: Uint8Array, at: number, what: string): number {
  if (at < 0 || at + 4 > b.length) throw new ZipError(`truncated archive: ${what} extends past end of file`);
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
function u64(b: Uint8Array, at: number, what: string): number {
  const lo = u32(b, at, what);
  const hi = u32(b, at + 4, what);
  // Offsets beyond 2^53 cannot index a JS buffer anyway; refuse rather than round.
  if (hi > 0x1fffff) throw new ZipError(`${what}: 64-bit value too large`);
  return hi * 0x100000000 + lo;
}

/** Finds the end-of-central-directory record, scanning back over a possible archive comment. */
function findEocd(b: Uint8Array): number {
  if (b.length < EOCD_SIZE) throw new ZipError(`not a ZIP archive: ${b.length} bytes is too short`);
  const stop = Math.max(0, b.length - EOCD_SIZE - 0xffff);
  for (let i = b.length - EOCD_SIZE; i >= stop; i--) {
    if (b[i] === 0x50 && b[i + 1] === 0x4b && b[i + 2] === 0x05 && b[i + 3] === 0x06) {
      // The comment length must reach exactly to the end of the file; otherwise the signature
      // bytes are just data that happens to look like one.
      if (i + EOCD_SIZE + u16(b, i + 20, 'end of central directory') === b.length) return i;
    }
  }
  throw new ZipError('bad ZIP archive: end-of-central-directory record not found (file truncated?)');
}

interface Directory {
  count: number;
  offset: number;
  size: number;
}

/** Reads the central directory location, following ZIP64 records when the 32-bit fields overflow. */
function readDirectoryLocation(b: Uint8Array, eocd: number): Directory {
  let count = u16(b, eocd + 10, 'end of central directory');
  let size = u32(b, eocd + 12, 'end of central directory');
  let offset = u32(b, eocd + 16, 'end of central directory');
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(b, loc, 'ZIP64 locator') !== SIG_ZIP64_LOCATOR) {
      throw new ZipError('bad ZIP64 archive: end-of-central-directory fields overflow but no ZIP64 locator');
    }
    const rec = u64(b, loc + 8, 'ZIP64 locator');
    if (u32(b, rec, 'ZIP64 end of central directory') !== SIG_ZIP64_EOCD) {
      throw new ZipError('bad ZIP64 archive: bad signature of ZIP64 end-of-central-directory record');
    }
    count = u64(b, rec + 32, 'ZIP64 end of central directory');
    size = u64(b, rec + 40, 'ZIP64 end of central directory');
    offset = u64(b, rec + 48, 'ZIP64 end of central directory');
  }
  if (offset + size > b.length)
    throw new ZipError('truncated archive: central directory extends past end of file');
  // Each central record is at least 46 bytes; a larger count is corrupt (and would be a DoS).
  if (count * 46 > size)
    throw new ZipError(`bad ZIP archive: ${count} entries cannot fit in a ${size}-byte directory`);
  return { count, offset, size };
}

/** Replaces 0xffffffff placeholders from the ZIP64 extended-information extra field (id 0x0001). */
function applyZip64Extra(
  b: Uint8Array,
  extraStart: number,
  extraEnd: number,
  name: string,
  sizes: { uncompressed: number; compressed: number; offset: number },
): void {
  let p = extraStart;
  while (p + 4 <= extraEnd) {
    const id = u16(b, p, `extra field of ${name}`);
    const len = u16(b, p + 2, `extra field of ${name}`);
    const dataEnd = p + 4 + len;
    if (dataEnd > extraEnd) throw new ZipError(`bad ZIP entry ${name}: extra field overruns its header`);
    if (id === 0x0001) {
      // Fields appear only for the values that overflowed, in this fixed order.
      let q = p + 4;
      const take = (what: string): number => {
        if (q + 8 > dataEnd) throw new ZipError(`bad ZIP entry ${name}: ZIP64 extra field lacks ${what}`);
        const v = u64(b, q, `ZIP64 extra field of ${name}`);
        q += 8;
        return v;
      };
      if (sizes.uncompressed === 0xffffffff) sizes.uncompressed = take('uncompressed size');
      if (sizes.compressed === 0xffffffff) sizes.compressed = take('compressed size');
      if (sizes.offset === 0xffffffff) sizes.offset = take('local header offset');
      return;
    }
    p = dataEnd;
  }
  if (sizes.uncompressed === 0xffffffff || sizes.compressed === 0xffffffff || sizes.offset === 0xffffffff) {
    throw new ZipError(`bad ZIP entry ${name}: 32-bit size or offset overflows but no ZIP64 extra field`);
  }
}

/** Where an entry's data lies, after its local header: start and end (exclusive). */
interface RecordSpan {
  readonly dataStart: number;
  readonly dataEnd: number;
}

/** Locates an entry's local record from its header, checking it lies inside the buffer. */
function recordSpan(b: Uint8Array, entry: ZipEntry): RecordSpan {
  const { name } = entry;
  const h = entry.localHeaderOffset;
  if (h + 30 > b.length) throw new ZipError(`truncated ZIP entry ${name}: local header past end of file`);
  if (u32(b, h, `local header of ${name}`) !== SIG_LOCAL) {
    throw new ZipError(`bad signature of local header of ZIP entry ${name} at byte ${h}`);
  }
  const nameLen = u16(b, h + 26, `local header of ${name}`);
  const extraLen = u16(b, h + 28, `local header of ${name}`);
  const dataStart = h + 30 + nameLen + extraLen;
  const dataEnd = dataStart + entry.compressedSize;
  if (dataEnd > b.length) {
    throw new ZipError(
      `truncated ZIP entry ${name}: needs ${entry.compressedSize} bytes at ${dataStart}, file has ${b.length}`,
    );
  }
  return { dataStart, dataEnd };
}

/**
 * Refuses entries that share or overlap local records. A valid archive stores each entry once;
 * several directory entries pointing into one deflated record multiply what a small file inflates
 * to (a 288 KB file asked for 34 GiB this way).
 */
function checkDisjointRecords(entries: readonly ZipEntry[], spans: ReadonlyMap<ZipEntry, RecordSpan>): void {
  const ordered = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < ordered.length; i++) {
    const before = ordered[i - 1];
    const after = ordered[i];
    const end = spans.get(before)!.dataEnd;
    if (after.localHeaderOffset === before.localHeaderOffset) {
      throw new ZipError(
        `bad ZIP archive: entries ${before.name} and ${after.name} share the local record at byte ${after.localHeaderOffset}`,
      );
    }
    if (after.localHeaderOffset < end) {
      throw new ZipError(
        `bad ZIP archive: entry ${after.name} (record at byte ${after.localHeaderOffset}) overlaps entry ${before.name} (bytes ${before.localHeaderOffset}..${end})`,
      );
    }
  }
}

/**
 * Parses the central directory of a ZIP archive held in memory and checks that every entry owns
 * its local record. Record data is touched only when {@link ZipArchive.read} is called.
 */
export function readZip(bytes: Uint8Array, options: ZipReadOptions = {}): ZipArchive {
  const b = bytes;
  const eocd = findEocd(b);
  const dir = readDirectoryLocation(b, eocd);
  const entries: ZipEntry[] = [];
  const byName = new Map<string, ZipEntry>();
  let p = dir.offset;
  const dirEnd = dir.offset + dir.size;
  for (let i = 0; i < dir.count; i++) {
    if (p + 46 > dirEnd) throw new ZipError(`truncated central directory at entry ${i}`);
    if (u32(b, p, 'central directory') !== SIG_CENTRAL) {
      throw new ZipError(`bad signature of central directory entry ${i} at byte ${p}`);
    }
    const method = u16(b, p + 10, 'central directory');
    const crc = u32(b, p + 16, 'central directory');
    const nameLen = u16(b, p + 28, 'central directory');
    const extraLen = u16(b, p + 30, 'central directory');
    const commentLen = u16(b, p + 32, 'central directory');
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > dirEnd) throw new ZipError(`truncated central directory at entry ${i}`);
    const name = utf8.decode(b.subarray(p + 46, p + 46 + nameLen));
    const sizes = {
      compressed: u32(b, p + 20, 'central directory'),
      uncompressed: u32(b, p + 24, 'central directory'),
      offset: u32(b, p + 42, 'central directory'),
    };
    applyZip64Extra(b, p + 46 + nameLen, p + 46 + nameLen + extraLen, name, sizes);
    const entry: ZipEntry = {
      name,
      method,
      crc32: crc,
      compressedSize: sizes.compressed,
      uncompressedSize: sizes.uncompressed,
      localHeaderOffset: sizes.offset,
    };
    if (byName.has(name)) throw new ZipError(`bad ZIP archive: duplicate entry ${name}`);
    entries.push(entry);
    byName.set(name, entry);
    p = next;
  }
  const spans = new Map(entries.map((entry) => [entry, recordSpan(b, entry)] as const));
  checkDisjointRecords(entries, spans);
  const budget = new InflateBudget(options.maxInflatedBytes ?? defaultInflateBudget(b.length), b.length);
  return {
    entries,
    get: (name) => byName.get(name),
    read: (entry, readOptions) => {
      // An entry built by the caller rather than listed here is located on the spot.
      const span = spans.get(entry) ?? recordSpan(b, entry);
      return readEntry(b, entry, span, budget, readOptions?.verifyCrc ?? true);
    },
  };
}

/** Bytes inflated so far from one archive against its cap; charged before each allocation. */
class InflateBudget {
  #used = 0;
  constructor(
    readonly limit: number,
    readonly archiveBytes: number,
  ) {}

  charge(entry: ZipEntry): void {
    const size = entry.uncompressedSize;
    if (this.#used + size > this.limit) {
      throw new ZipError(
        `ZIP entry ${entry.name}: inflating its ${size} bytes would exceed the inflation budget of ${this.limit} bytes ` +
          `for this ${this.archiveBytes}-byte archive (${this.#used} inflated already); a legitimately huge file ` +
          `needs a larger maxInflatedBytes`,
      );
    }
    this.#used += size;
  }
}

/** Decompresses and checks one record. */
function readEntry(
  b: Uint8Array,
  entry: ZipEntry,
  span: RecordSpan,
  budget: InflateBudget,
  verifyCrc: boolean,
): Uint8Array {
  const { name } = entry;
  const raw = b.subarray(span.dataStart, span.dataEnd);
  let data: Uint8Array;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.uncompressedSize) {
      throw new ZipError(`bad ZIP entry ${name}: stored record with differing compressed/uncompressed sizes`);
    }
    data = raw;
  } else if (entry.method === 8) {
    checkDeflateRatio(raw, entry);
    budget.charge(entry);
    data = inflateBounded(raw, entry);
  } else {
    throw new ZipError(`unsupported compression method ${entry.method} in ZIP entry ${name}`);
  }
  if (verifyCrc && crc32(data) !== entry.crc32)
    throw new ZipError(`CRC mismatch in ZIP entry ${name}: data is corrupt`);
  return data;
}

/** Refuses a declared size that deflate cannot reach from the record's compressed bytes. */
function checkDeflateRatio(raw: Uint8Array, entry: ZipEntry): void {
  if (entry.uncompressedSize > raw.length * MAX_DEFLATE_RATIO + 64) {
    throw new ZipError(
      `bad ZIP entry ${entry.name}: declared size ${entry.uncompressedSize} is impossible for ${raw.length} deflated bytes`,
    );
  }
}

/** Inflates a deflate stream, refusing to produce more than the size the directory declares. */
function inflateBounded(raw: Uint8Array, entry: ZipEntry): Uint8Array {
  const expected = entry.uncompressedSize;
  const out = new Uint8Array(expected);
  let filled = 0;
  let done = false;
  const inflater = new Inflate((chunk, final) => {
    if (filled + chunk.length > expected) {
      throw new ZipError(`bad ZIP entry ${entry.name}: inflates to more than the declared ${expected} bytes`);
    }
    out.set(chunk, filled);
    filled += chunk.length;
    if (final) done = true;
  });
  try {
    // Feed in slices so an over-long stream is stopped early instead of fully expanded.
    const step = 1 << 16;
    for (let i = 0; i < raw.length; i += step) {
      const last = i + step >= raw.length;
      inflater.push(raw.subarray(i, Math.min(raw.length, i + step)), last);
    }
    if (raw.length === 0) inflater.push(raw, true);
  } catch (e) {
    if (e instanceof ZipError) throw e;
    throw new ZipError(`corrupt deflate data in ZIP entry ${entry.name}: ${(e as Error).message}`);
  }
  if (!done || filled !== expected) {
    throw new ZipError(
      `bad ZIP entry ${entry.name}: inflated to ${filled} bytes, directory says ${expected}`,
    );
  }
  return out;
}

/** One file to put into an archive written by {@link writeZip}. */
export interface ZipInputFile {
  /** Path inside the archive (forward slashes). */
  readonly name: string;
  /** Contents, stored uncompressed. */
  readonly data: Uint8Array;
}

/** Options of {@link writeZip}. */
export interface ZipWriteOptions {
  /** Align every record's data to this many bytes (PyTorch uses 64). 1 disables padding. */
  readonly alignment?: number;
}

const utf8enc = new TextEncoder();

/**
 * Writes an archive of stored records (no compression: tensor data barely compresses and stored
 * data can be memory-mapped). Data offsets are aligned like PyTorch's writer does. Archives over
 * 4 GiB (which would need ZIP64) are refused.
 */
export function writeZip(files: readonly ZipInputFile[], options: ZipWriteOptions = {}): Uint8Array {
  const alignment = options.alignment ?? 64;
  if (!Number.isInteger(alignment) || alignment < 1 || alignment > 0x8000) {
    throw new RangeError(`writeZip: alignment must be an integer in 1..32768, got ${alignment}`);
  }
  if (files.length > 0xffff)
    throw new ZipError(`writeZip: ${files.length} files need ZIP64, which is not supported`);
  const seen = new Set<string>();
  const plan: { name: Uint8Array; data: Uint8Array; crc: number; offset: number; pad: number }[] = [];
  let pos = 0;
  for (const f of files) {
    if (seen.has(f.name)) throw new ZipError(`writeZip: duplicate entry ${f.name}`);
    seen.add(f.name);
    const name = utf8enc.encode(f.name);
    if (name.length > 0xffff) throw new ZipError(`writeZip: entry name too long: ${f.name.slice(0, 80)}...`);
    // Data would start after the 30-byte header, the name and a 4-byte extra-field header.
    const unpadded = pos + 30 + name.length + 4;
    const pad = (alignment - (unpadded % alignment)) % alignment;
    plan.push({ name, data: f.data, crc: crc32(f.data), offset: pos, pad });
    pos = unpadded + pad + f.data.length;
  }
  const dirStart = pos;
  let dirSize = 0;
  for (const e of plan) dirSize += 46 + e.name.length;
  const total = dirStart + dirSize + EOCD_SIZE;
  if (total > 0xffffffff)
    throw new ZipError('writeZip: archive larger than 4 GiB needs ZIP64, which is not supported');
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  // DOS date 1980-01-01 00:00, like PyTorch: a fixed timestamp keeps output reproducible.
  const dosTime = 0;
  const dosDate = (0 << 9) | (1 << 5) | 1;
  for (const e of plan) {
    let p = e.offset;
    dv.setUint32(p, SIG_LOCAL, true);
    dv.setUint16(p + 4, 20, true); // version needed: 2.0
    dv.setUint16(p + 6, 1 << 11, true); // flag bit 11: names are UTF-8
    dv.setUint16(p + 8, 0, true); // method: stored
    dv.setUint16(p + 10, dosTime, true);
    dv.setUint16(p + 12, dosDate, true);
    dv.setUint32(p + 14, e.crc, true);
    dv.setUint32(p + 18, e.data.length, true);
    dv.setUint32(p + 22, e.data.length, true);
    dv.setUint16(p + 26, e.name.length, true);
    dv.setUint16(p + 28, 4 + e.pad, true);
    out.set(e.name, p + 30);
    p += 30 + e.name.length;
    // Padding extra field: id "FB", filled with 'Z' as PyTorch does.
    out[p] = 0x46;
    out[p + 1] = 0x42;
    dv.setUint16(p + 2, e.pad, true);
    out.fill(0x5a, p + 4, p + 4 + e.pad);
    out.set(e.data, p + 4 + e.pad);
  }
  let p = dirStart;
  for (const e of plan) {
    dv.setUint32(p, SIG_CENTRAL, true);
    dv.setUint16(p + 4, 20, true); // version made by
    dv.setUint16(p + 6, 20, true); // version needed
    dv.setUint16(p + 8, 1 << 11, true);
    dv.setUint16(p + 10, 0, true);
    dv.setUint16(p + 12, dosTime, true);
    dv.setUint16(p + 14, dosDate, true);
    dv.setUint32(p + 16, e.crc, true);
    dv.setUint32(p + 20, e.data.length, true);
    dv.setUint32(p + 24, e.data.length, true);
    dv.setUint16(p + 28, e.name.length, true);
    // extra length, comment length, disk number, internal/external attributes stay 0
    dv.setUint32(p + 42, e.offset, true);
    out.set(e.name, p + 46);
    p += 46 + e.name.length;
  }
  dv.setUint32(p, SIG_EOCD, true);
  dv.setUint16(p + 8, plan.length, true);
  dv.setUint16(p + 10, plan.length, true);
  dv.setUint32(p + 12, dirSize, true);
  dv.setUint32(p + 16, dirStart, true);
  return out;
}
