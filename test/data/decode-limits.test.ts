import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { decodeImage } from '../../src/data/decode.js';
import { crc32 } from '../../src/weights/crc32.js';
import { jpegBytes, patternRgb, pngBytes } from './_files.js';

/** One PNG chunk: length, type, data, CRC of type + data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A PNG with the given IHDR fields and compressed image data (grayscale unless `colorType` says otherwise). */
function craftedPng(
  header: { width: number; height: number; bitDepth?: number; colorType?: number; interlaced?: boolean },
  imageData: Uint8Array,
): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, header.width);
  dv.setUint32(4, header.height);
  ihdr[8] = header.bitDepth ?? 8;
  ihdr[9] = header.colorType ?? 0;
  ihdr[12] = header.interlaced ? 1 : 0;
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', imageData),
    chunk('IEND', new Uint8Array(0)),
  ];
  return Buffer.concat(parts);
}

/** A real JPEG whose start-of-frame marker is rewritten to declare `width` x `height`. */
function jpegDeclaring(width: number, height: number): Uint8Array {
  const bytes = jpegBytes(patternRgb(0, 16, 16), 16, 16).slice();
  const sof = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xc0);
  assert.ok(sof > 0, 'baseline frame header');
  new DataView(bytes.buffer, bytes.byteOffset).setUint16(sof + 5, height);
  new DataView(bytes.buffer, bytes.byteOffset).setUint16(sof + 7, width);
  return bytes;
}

/** `decodeImage` must refuse within `ms` with a message matching `pattern`. */
function refusedFast(bytes: Uint8Array, file: string, pattern: RegExp, ms = 1000): void {
  const started = performance.now();
  assert.throws(() => decodeImage(bytes, file), pattern);
  const took = performance.now() - started;
  assert.ok(took < ms, `${file}: took ${took.toFixed(0)} ms`);
}

describe('image decompression bombs are refused from the header', () => {
  it('a 32000x32000 1-bit PNG (1024 MP) is refused before inflating, naming the file and the limit', () => {
    // One row of the 128 MB of image data suffices: nothing past the header may be read.
    const bomb = craftedPng({ width: 32000, height: 32000, bitDepth: 1 }, deflateSync(new Uint8Array(4001)));
    refusedFast(
      bomb,
      'bomb.png',
      /^DatasetError: bomb\.png: image is 32000x32000 \(1024\.0 MP\), over the limit of 100 MP$/,
    );
  });

  it('a 0x10 PNG and a 10x0 JPEG are refused as having no pixels', () => {
    refusedFast(
      craftedPng({ width: 0, height: 10 }, deflateSync(new Uint8Array(0))),
      'empty.png',
      /^DatasetError: empty\.png: image is 0x10: it has no pixels$/,
    );
    refusedFast(
      jpegDeclaring(10, 0),
      'empty.jpg',
      /^DatasetError: empty\.jpg: image is 10x0: it has no pixels$/,
    );
  });

  it('a valid 20000x1 PNG is refused at once for its aspect ratio; 64:1 still decodes', () => {
    const rows = deflateSync(new Uint8Array(20001));
    refusedFast(
      craftedPng({ width: 20000, height: 1 }, rows),
      'strip.png',
      /^DatasetError: strip\.png: image is 20000x1, an aspect ratio of 20000\.0:1, over the limit of 64:1$/,
    );
    const edge = decodeImage(pngBytes(patternRgb(1, 2, 128), 2, 128), 'edge.png');
    assert.deepEqual([edge.height, edge.width], [2, 128]);
  });

  it('a JPEG declaring 40000x40000 or 8000x10 is refused from its frame header', () => {
    refusedFast(
      jpegDeclaring(40000, 40000),
      'huge.jpg',
      /^DatasetError: huge\.jpg: image is 40000x40000 \(1600\.0 MP\), over the limit of 100 MP$/,
    );
    refusedFast(
      jpegDeclaring(8000, 10),
      'wide.jpg',
      /wide\.jpg: image is 8000x10, an aspect ratio of 800\.0:1, over the limit of 64:1/,
    );
  });

  it('interlaced PNG data that inflates past what its 10x10 header needs is refused', () => {
    const bomb = craftedPng(
      { width: 10, height: 10, interlaced: true },
      deflateSync(new Uint8Array(16 << 20)),
    );
    assert.ok(bomb.length < 64_000);
    refusedFast(
      bomb,
      'interlaced.png',
      /^DatasetError: interlaced\.png: interlaced PNG data inflates to more than the 120 bytes a 10x10 image needs$/,
    );
  });

  it('valid interlaced PNGs, RGB and 1-bit, still decode (the bound is exact)', () => {
    // Adam7 scanlines of a 10x10 image, filter byte 0 and black pixels: 320 bytes in RGB, 45 at one bit per pixel.
    for (const [bitDepth, colorType, bytes] of [
      [8, 2, 320],
      [1, 0, 45],
    ] as const) {
      const scanlines = deflateSync(new Uint8Array(bytes));
      const png = craftedPng({ width: 10, height: 10, bitDepth, colorType, interlaced: true }, scanlines);
      const image = decodeImage(png, 'adam7.png');
      assert.deepEqual([image.height, image.width], [10, 10]);
    }
  });

  it('a truncated header is a decode error naming the file, not a RangeError', () => {
    const png = pngBytes(patternRgb(2, 8, 8), 8, 8);
    assert.throws(
      () => decodeImage(png.slice(0, 20), 'cut.png'),
      /^DatasetError: cut\.png: cannot decode PNG \(no IHDR chunk/,
    );
    const jpg = jpegBytes(patternRgb(2, 8, 8), 8, 8);
    assert.throws(
      () => decodeImage(jpg.slice(0, 6), 'cut.jpg'),
      /^DatasetError: cut\.jpg: cannot decode JPEG/,
    );
  });
});
