import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { crc32, isZip, readZip, writeZip, ZipError } from '../../src/weights/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Offset of an entry's data, computed from its local header. */
function dataOffset(bytes: Uint8Array, localHeaderOffset: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  return (
    localHeaderOffset +
    30 +
    dv.getUint16(localHeaderOffset + 26, true) +
    dv.getUint16(localHeaderOffset + 28, true)
  );
}

/** Hand-built ZIP64 archive with one stored entry: every size/offset goes through ZIP64 fields. */
function zip64Archive(name: string, data: Uint8Array): Uint8Array {
  const n = enc.encode(name);
  const parts: number[] = [];
  const u16 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff);
  const u32 = (v: number) => {
    u16(v & 0xffff);
    u16(v >>> 16);
  };
  const u64 = (v: number) => {
    u32(v % 0x100000000);
    u32(Math.floor(v / 0x100000000));
  };
  const crc = crc32(data);
  // local header with ZIP64 extra (uncompressed, compressed)
  u32(0x04034b50);
  u16(45);
  u16(0);
  u16(0);
  u16(0);
  u16(0);
  u32(crc);
  u32(0xffffffff);
  u32(0xffffffff);
  u16(n.length);
  u16(20);
  parts.push(...n);
  u16(1);
  u16(16);
  u64(data.length);
  u64(data.length);
  parts.push(...data);
  const cdStart = parts.length;
  u32(0x02014b50);
  u16(45);
  u16(45);
  u16(0);
  u16(0);
  u16(0);
  u16(0);
  u32(crc);
  u32(0xffffffff);
  u32(0xffffffff);
  u16(n.length);
  u16(28);
  u16(0);
  u16(0);
  u16(0);
  u32(0);
  u32(0xffffffff);
  parts.push(...n);
  u16(1);
  u16(24);
  u64(data.length);
  u64(data.length);
  u64(0);
  const cdSize = parts.length - cdStart;
  const z64 = parts.length;
  u32(0x06064b50);
  u64(44);
  u16(45);
  u16(45);
  u32(0);
  u32(0);
  u64(1);
  u64(1);
  u64(cdSize);
  u64(cdStart);
  u32(0x07064b50);
  u32(0);
  u64(z64);
  u32(1);
  u32(0x06054b50);
  u16(0);
  u16(0);
  u16(0xffff);
  u16(0xffff);
  u32(0xffffffff);
  u32(0xffffffff);
  u16(0);
  return Uint8Array.from(parts);
}

describe('zip writer + reader', () => {
  it('round-trips stored records with 64-byte-aligned data and correct CRCs', () => {
    const files = [
      { name: 'arch/data.pkl', data: enc.encode('pickle bytes') },
      { name: 'arch/data/0', data: Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff) },
      { name: 'arch/data/1', data: new Uint8Array(0) },
      { name: 'arch/d\u00e9j\u00e0', data: enc.encode('utf-8 name') },
      { name: 'arch/version', data: enc.encode('3\n') },
    ];
    const bytes = writeZip(files);
    assert.ok(isZip(bytes));
    const zip = readZip(bytes);
    assert.deepEqual(
      zip.entries.map((e) => e.name),
      files.map((f) => f.name),
    );
    for (const f of files) {
      const e = zip.get(f.name)!;
      assert.equal(e.method, 0);
      assert.equal(e.crc32, crc32(f.data));
      assert.deepEqual(zip.read(e), f.data);
      assert.equal(dataOffset(bytes, e.localHeaderOffset) % 64, 0, `${f.name} data is 64-byte aligned`);
    }
    // Alignment 1 disables padding.
    const tight = writeZip(files, { alignment: 1 });
    assert.ok(tight.length < bytes.length);
    assert.deepEqual(readZip(tight).read(readZip(tight).get('arch/data/0')!), files[1].data);
  });

  it('crc32 matches the standard check value', () => {
    assert.equal(crc32(enc.encode('123456789')), 0xcbf43926);
  });

  it('reads deflated records (method 8) written by another zip implementation', () => {
    const text = enc.encode('tensor '.repeat(5000));
    const bytes = zipSync({
      'a/data.pkl': [text, { level: 9 }],
      'a/raw': [Uint8Array.of(1, 2, 3), { level: 0 }],
    });
    const zip = readZip(bytes);
    const e = zip.get('a/data.pkl')!;
    assert.equal(e.method, 8);
    assert.ok(e.compressedSize < text.length / 10);
    assert.deepEqual(zip.read(e), text);
    assert.deepEqual(zip.read(zip.get('a/raw')!), Uint8Array.of(1, 2, 3));
  });

  it('reads ZIP64 end records and extra fields', () => {
    const bytes = zip64Archive('big/data/0', enc.encode('zip64 payload'));
    const zip = readZip(bytes);
    assert.equal(zip.entries.length, 1);
    assert.equal(zip.entries[0].uncompressedSize, 13);
    assert.equal(dec.decode(zip.read(zip.entries[0])), 'zip64 payload');
  });

  it('finds the end record behind an archive comment', () => {
    const bytes = writeZip([{ name: 'x', data: enc.encode('y') }]);
    const withComment = new Uint8Array(bytes.length + 5);
    withComment.set(bytes);
    withComment.set(enc.encode('hello'), bytes.length);
    new DataView(withComment.buffer).setUint16(bytes.length - 2, 5, true);
    assert.equal(dec.decode(readZip(withComment).read(readZip(withComment).get('x')!)), 'y');
  });
});

describe('zip errors name the entry and the problem', () => {
  const base = writeZip([{ name: 'm/data.pkl', data: enc.encode('0123456789') }]);
  const entry = readZip(base).get('m/data.pkl')!;
  const at = dataOffset(base, entry.localHeaderOffset);

  it('CRC mismatch', () => {
    const bad = base.slice();
    bad[at] ^= 1;
    assert.throws(
      () => readZip(bad).read(readZip(bad).get('m/data.pkl')!),
      (e: unknown) => e instanceof ZipError && /CRC mismatch in ZIP entry m\/data\.pkl/.test(e.message),
    );
    // verifyCrc: false skips the check
    assert.equal(readZip(bad).read(readZip(bad).get('m/data.pkl')!, { verifyCrc: false })[0], 0x31);
  });

  it('bad local header signature', () => {
    const bad = base.slice();
    bad[0] = 0x51;
    assert.throws(
      () => readZip(bad).read(readZip(bad).entries[0]),
      /bad signature of local header of ZIP entry m\/data\.pkl/,
    );
  });

  it('unsupported compression method', () => {
    const bad = base.slice();
    const cd = bad.length - 22 - (46 + 'm/data.pkl'.length);
    bad[cd + 10] = 12; // bzip2
    assert.throws(
      () => readZip(bad).read(readZip(bad).entries[0]),
      /unsupported compression method 12 in ZIP entry m\/data\.pkl/,
    );
  });

  it('truncation and missing end record', () => {
    assert.throws(
      () => readZip(base.subarray(0, base.length - 1)),
      /end-of-central-directory record not found/,
    );
    assert.throws(() => readZip(new Uint8Array(5)), /too short/);
    // An end record pointing past the file.
    const bad = base.slice();
    new DataView(bad.buffer).setUint32(bad.length - 6, 0x7fff0000, true);
    assert.throws(() => readZip(bad), ZipError);
  });

  it('deflate stream larger than the declared size is refused (zip bomb)', () => {
    const bytes = zipSync({ bomb: [new Uint8Array(100_000), { level: 9 }] });
    const bad = bytes.slice();
    const cd = bad.length - 22 - (46 + 'bomb'.length);
    new DataView(bad.buffer).setUint32(cd + 24, 1000, true); // claim 1000 bytes uncompressed
    assert.throws(
      () => readZip(bad).read(readZip(bad).get('bomb')!),
      /inflates to more than the declared 1000 bytes/,
    );
    const huge = bytes.slice();
    new DataView(huge.buffer).setUint32(cd + 24, 0xfffffff0, true);
    assert.throws(() => readZip(huge).read(readZip(huge).get('bomb')!), /declared size .* is impossible/);
  });

  it('corrupt deflate data', () => {
    const bytes = zipSync({ d: [enc.encode('abc'.repeat(100)), { level: 6 }] });
    const e = readZip(bytes).get('d')!;
    const bad = bytes.slice();
    bad.fill(
      0xff,
      dataOffset(bytes, e.localHeaderOffset),
      dataOffset(bytes, e.localHeaderOffset) + e.compressedSize,
    );
    assert.throws(
      () => readZip(bad).read(readZip(bad).get('d')!),
      (err: unknown) => err instanceof ZipError && /ZIP entry d/.test(err.message),
    );
  });

  it('writer refuses duplicate names', () => {
    assert.throws(
      () =>
        writeZip([
          { name: 'a', data: new Uint8Array(0) },
          { name: 'a', data: new Uint8Array(0) },
        ]),
      /duplicate entry a/,
    );
  });
});
