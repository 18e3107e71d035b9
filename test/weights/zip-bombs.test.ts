import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateSync } from 'fflate';
import {
  crc32,
  defaultInflateBudget,
  readTorchCheckpoint,
  readZip,
  type TorchTensor,
} from '../../src/weights/index.js';
import { PickleBuilder } from './_helpers.js';

const enc = new TextEncoder();
const MiB = 1024 * 1024;

/** What a central-directory entry claims about a record. */
interface DirectoryEntry {
  name: string;
  offset: number;
  method: 0 | 8;
  compressed: number;
  size: number;
  crc: number;
}

/** A local file header followed by the record's (already compressed) bytes. */
function localRecord(entry: Omit<DirectoryEntry, 'offset'>, data: Uint8Array): Uint8Array {
  const name = enc.encode(entry.name);
  const out = new Uint8Array(30 + name.length + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x04034b50, true);
  dv.setUint16(4, 20, true);
  dv.setUint16(8, entry.method, true);
  dv.setUint32(14, entry.crc, true);
  dv.setUint32(18, entry.compressed, true);
  dv.setUint32(22, entry.size, true);
  dv.setUint16(26, name.length, true);
  out.set(name, 30);
  out.set(data, 30 + name.length);
  return out;
}

/** Records back to back, then a central directory saying whatever `directory` says about them. */
function craftArchive(records: readonly Uint8Array[], directory: readonly DirectoryEntry[]): Uint8Array {
  const names = directory.map((e) => enc.encode(e.name));
  const recordBytes = records.reduce((n, r) => n + r.length, 0);
  const directoryBytes = names.reduce((n, name) => n + 46 + name.length, 0);
  const out = new Uint8Array(recordBytes + directoryBytes + 22);
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const r of records) {
    out.set(r, p);
    p += r.length;
  }
  directory.forEach((e, i) => {
    dv.setUint32(p, 0x02014b50, true);
    dv.setUint16(p + 4, 20, true);
    dv.setUint16(p + 6, 20, true);
    dv.setUint16(p + 10, e.method, true);
    dv.setUint32(p + 16, e.crc, true);
    dv.setUint32(p + 20, e.compressed, true);
    dv.setUint32(p + 24, e.size, true);
    dv.setUint16(p + 28, names[i].length, true);
    dv.setUint32(p + 42, e.offset, true);
    out.set(names[i], p + 46);
    p += 46 + names[i].length;
  });
  dv.setUint32(p, 0x06054b50, true);
  dv.setUint16(p + 8, directory.length, true);
  dv.setUint16(p + 10, directory.length, true);
  dv.setUint32(p + 12, directoryBytes, true);
  dv.setUint32(p + 16, recordBytes, true);
  return out;
}

/** `bytes` zeros deflated (about 1 KB per MiB: deflate's ~1000x limit) with their CRC. */
function deflatedZeros(bytes: number): { data: Uint8Array; size: number; crc: number } {
  const zeros = new Uint8Array(bytes);
  return { data: deflateSync(zeros, { level: 9 }), size: bytes, crc: crc32(zeros) };
}

/** torch.save's pickle of a dict `w<i>` -> float32 tensor of `numel` elements on storage `<i>`. */
function stateDictPickle(count: number, numel: number): Uint8Array {
  const int32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  const p = new PickleBuilder().proto(2).op(0x7d); // EMPTY_DICT
  for (let i = 0; i < count; i++) {
    p.str(`w${i}`).global('torch._utils', '_rebuild_tensor_v2').op(0x28); // MARK: the call's arguments
    p.op(0x28).str('storage').global('torch', 'FloatStorage').str(String(i)).str('cpu');
    p.op(0x4a, ...int32(numel), 0x74, 0x51); // numel, TUPLE, BINPERSID
    p.op(0x4b, 0)
      .op(0x4a, ...int32(numel), 0x85)
      .op(0x4b, 1, 0x85)
      .op(0x89); // offset, (numel,), (1,), False
    p.global('collections', 'OrderedDict').op(0x29, 0x52); // OrderedDict()
    p.op(0x74, 0x52, 0x73); // TUPLE, REDUCE, SETITEM
  }
  return p.stop();
}

/** A zip checkpoint `bomb/` with the pickle stored and one deflated record per storage (or one shared). */
function checkpointArchive(
  pkl: Uint8Array,
  storages: ReadonlyArray<{ data: Uint8Array; size: number; crc: number }>,
  options: { shareOneRecord?: boolean } = {},
): Uint8Array {
  const pklEntry = { name: 'bomb/data.pkl', method: 0, compressed: pkl.length, size: pkl.length } as const;
  const records = [localRecord({ ...pklEntry, crc: crc32(pkl) }, pkl)];
  const directory: DirectoryEntry[] = [{ ...pklEntry, crc: crc32(pkl), offset: 0 }];
  let offset = records[0].length;
  storages.forEach((s, i) => {
    const entry = {
      name: `bomb/data/${i}`,
      method: 8,
      compressed: s.data.length,
      size: s.size,
      crc: s.crc,
    } as const;
    if (options.shareOneRecord && i > 0) {
      directory.push({ ...entry, offset: directory[1].offset });
      return;
    }
    const record = localRecord(entry, s.data);
    records.push(record);
    directory.push({ ...entry, offset });
    offset += record.length;
  });
  return craftArchive(records, directory);
}

/** Runs `fn`, which must throw an error matching `pattern` within `ms` milliseconds. */
function refusedFast(fn: () => unknown, pattern: RegExp, ms = 2000): void {
  const started = performance.now();
  assert.throws(fn, pattern);
  const took = performance.now() - started;
  assert.ok(took < ms, `took ${took.toFixed(0)} ms`);
}

describe('zip bombs: entries must own their bytes', () => {
  it('4096 directory entries sharing one deflated record (4 GiB asked of a 300 KB file) are refused at once', () => {
    const zeros = deflatedZeros(MiB);
    const entry = { method: 8, compressed: zeros.data.length, size: zeros.size, crc: zeros.crc } as const;
    const record = localRecord({ ...entry, name: 'r' }, zeros.data);
    const directory = Array.from({ length: 4096 }, (_, i) => ({ ...entry, name: `e${i}`, offset: 0 }));
    const bomb = craftArchive([record], directory);
    assert.ok(bomb.length < 300_000);
    refusedFast(
      () => readZip(bomb),
      /ZipError: bad ZIP archive: entries e0 and e1 share the local record at byte 0/,
    );
  });

  it('an entry whose local record lies inside another entry is refused', () => {
    const zeros = deflatedZeros(MiB);
    const innerEntry = {
      name: 'inner',
      method: 8,
      compressed: zeros.data.length,
      size: zeros.size,
      crc: zeros.crc,
    };
    const inner = localRecord(innerEntry as Omit<DirectoryEntry, 'offset'>, zeros.data);
    const outerEntry = {
      name: 'outer',
      method: 0,
      compressed: inner.length,
      size: inner.length,
      crc: crc32(inner),
    };
    const outer = localRecord(outerEntry as Omit<DirectoryEntry, 'offset'>, inner);
    const bomb = craftArchive(
      [outer],
      [
        { ...(outerEntry as DirectoryEntry), offset: 0 },
        { ...(innerEntry as DirectoryEntry), offset: 30 + 'outer'.length },
      ],
    );
    refusedFast(() => readZip(bomb), /entry inner \(record at byte 35\) overlaps entry outer \(bytes 0\.\./);
  });
});

describe('zip bombs in checkpoints: records reconciled with the pickle, inflation on a budget', () => {
  it('1000 storages whose records are one shared deflated record are refused before any inflation', () => {
    const zeros = deflatedZeros(MiB);
    const storages = Array.from({ length: 1000 }, () => zeros);
    const bomb = checkpointArchive(stateDictPickle(1000, MiB / 4), storages, { shareOneRecord: true });
    refusedFast(
      () => readTorchCheckpoint(bomb, { fileName: 'shared.pth' }),
      /^ZipError: shared\.pth: bad ZIP archive: entries bomb\/data\/0 and bomb\/data\/1 share the local record/,
    );
  });

  it('a record declaring more bytes than its storage needs (16 MiB for 16 bytes) is refused at parse time', () => {
    const bomb = checkpointArchive(stateDictPickle(1, 4), [deflatedZeros(16 * MiB)]);
    refusedFast(
      () => readTorchCheckpoint(bomb, { fileName: 'padded.pth' }),
      /^CheckpointError: padded\.pth: storage 0: record bomb\/data\/0 declares 16777216 bytes, but 4 x float32 needs only 16/,
    );
  });

  it('inflation stops at 64 MiB + 8x the file size; maxInflatedBytes moves the cap either way', () => {
    // 70 distinct, honest records of 1 MiB of zeros: 70 MiB from a file of about 90 KB.
    const zeros = deflatedZeros(MiB);
    const file = checkpointArchive(
      stateDictPickle(70, MiB / 4),
      Array.from({ length: 70 }, () => zeros),
    );
    const readAll = (maxInflatedBytes?: number) => {
      const dict = readTorchCheckpoint(file, { fileName: 'zeros.pth', maxInflatedBytes }) as Map<
        string,
        unknown
      >;
      let read = 0;
      for (const tensor of dict.values()) {
        (tensor as TorchTensor).toFloat32Array();
        read++;
      }
      return read;
    };
    const budget = defaultInflateBudget(file.length);
    const storagesInBudget = Math.floor(budget / MiB);
    assert.ok(storagesInBudget >= 64 && storagesInBudget < 70, `budget ${budget}`);
    refusedFast(
      () => readAll(),
      new RegExp(
        `^CheckpointError: zeros\\.pth: storage ${storagesInBudget}: ZIP entry bomb/data/${storagesInBudget}: ` +
          `inflating its 1048576 bytes would exceed the inflation budget of ${budget} bytes for this ${file.length}-byte archive`,
      ),
      5000,
    );
    refusedFast(() => readAll(4 * MiB), /storage 4: ZIP entry bomb\/data\/4: .* budget of 4194304 bytes/);
    assert.equal(readAll(Number.POSITIVE_INFINITY), 70);
  });
});
