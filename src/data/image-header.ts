/**
 * What an image file's header says, read before any decoding: the size from PNG's IHDR chunk or JPEG's
 * start-of-frame marker, and for PNG how many bytes its compressed image data must inflate to. The decoder checks
 * these against its limits first, so a decompression bomb (a 125 KB PNG that decodes to 4 GB) costs microseconds.
 * Malformed headers throw plain Errors; the decoder adds the file name.
 */

/** Image size as the header declares it. */
export interface ImageSize {
  width: number;
  height: number;
}

/** A PNG's IHDR fields that fix the size of its image data. */
export interface PngHeader extends ImageSize {
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

const PNG_SIGNATURE_BYTES = 8;
/** Samples per pixel of each PNG colour type (gray, RGB, palette, gray+alpha, RGBA). */
const PNG_CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Adam7 passes: first column, first row, column step, row step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

function u32be(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function chunkType(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

/** The IHDR chunk, which the PNG specification puts first, right after the signature. */
export function pngHeader(bytes: Uint8Array): PngHeader {
  const at = PNG_SIGNATURE_BYTES;
  if (bytes.length < at + 8 + 13 || chunkType(bytes, at + 4) !== 'IHDR' || u32be(bytes, at) !== 13)
    throw new Error('no IHDR chunk after the PNG signature');
  return {
    width: u32be(bytes, at + 8),
    height: u32be(bytes, at + 12),
    bitDepth: bytes[at + 16],
    colorType: bytes[at + 17],
    interlaced: bytes[at + 20] === 1,
  };
}

/**
 * Bytes the image data of a PNG inflates to: each scanline's pixels plus its filter byte, per Adam7 pass when
 * interlaced. Unknown colour types count as 4 samples per pixel (the decoder refuses them anyway).
 */
export function pngInflatedBytes(header: PngHeader): number {
  const bitsPerPixel = (PNG_CHANNELS[header.colorType] ?? 4) * header.bitDepth;
  const scanlines = (width: number, height: number) =>
    width > 0 && height > 0 ? (Math.ceil((width * bitsPerPixel) / 8) + 1) * height : 0;
  if (!header.interlaced) return scanlines(header.width, header.height);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7)
    total += scanlines(Math.ceil((header.width - x0) / dx), Math.ceil((header.height - y0) / dy));
  return total;
}

/** The compressed image data of a PNG: its IDAT chunks' contents, concatenated. */
export function pngImageData(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let at = PNG_SIGNATURE_BYTES; at + 12 <= bytes.length; ) {
    const length = u32be(bytes, at);
    const type = chunkType(bytes, at + 4);
    if (at + 12 + length > bytes.length) throw new Error(`PNG chunk ${type} runs past the end of the file`);
    if (type === 'IDAT') {
      parts.push(bytes.subarray(at + 8, at + 8 + length));
      total += length;
    }
    if (type === 'IEND') break;
    at += 12 + length;
  }
  const data = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.length;
  }
  return data;
}

/** JPEG start-of-frame markers (baseline, extended, progressive, lossless; not DHT C4, JPG C8, DAC CC). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** The size in a JPEG's start-of-frame marker, found by walking the marker segments that precede the scan. */
export function jpegSize(bytes: Uint8Array): ImageSize {
  let at = 2; // after SOI
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw new Error(`no JPEG marker at byte ${at}`);
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    at += 2;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue; // markers without a segment
    if (marker === 0xd9 || marker === 0xda) break; // end of image, start of scan: no frame header came first
    const length = (bytes[at] << 8) | bytes[at + 1];
    if (length < 2) throw new Error(`bad JPEG segment length ${length} at byte ${at}`);
    if (isStartOfFrame(marker)) {
      if (at + 7 > bytes.length) break;
      return { height: (bytes[at + 3] << 8) | bytes[at + 4], width: (bytes[at + 5] << 8) | bytes[at + 6] };
    }
    at += length;
  }
  throw new Error('no JPEG frame header (SOF marker) before the image data');
}
