import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CheckpointError,
  isPickleTuple,
  PickleGlobal,
  PickleNamespace,
  readTorchCheckpoint,
  readZip,
  sameStorage,
  type TorchStorage,
  TorchTensor,
  writeZip,
} from '../../src/weights/index.js';
import { fixtureBytes, fixtureJson } from './_helpers.js';

type Listing = Record<
  string,
  {
    top_level: string[] | null;
    keys: [string, string, number[]][];
    shared: Record<string, string>;
    unique_float_params: number;
  }
>;
interface Expected {
  dtype: string;
  shape: number[];
  stride: number[];
  storage_offset: number;
  values: (number | string | boolean)[];
}

const listing = fixtureJson<Listing>('generated/official-listing.json');
const manifest = fixtureJson<{
  fixtures: { weights_file: string; params: number; state_dict_entries: number }[];
}>('rla-official/manifest.json');

function asMap(v: unknown): Map<unknown, unknown> {
  assert.ok(v instanceof Map, 'expected a dict');
  return v as Map<unknown, unknown>;
}

function stateDictOf(file: string, ck: unknown): Map<string, TorchTensor> {
  const top = asMap(ck);
  const sd = asMap(listing[file].top_level ? top.get('state_dict') : top);
  for (const [k, v] of sd) {
    assert.equal(typeof k, 'string');
    assert.ok(v instanceof TorchTensor, `${String(k)} is a tensor`);
  }
  return sd as Map<string, TorchTensor>;
}

describe('official RLA-Net checkpoints', () => {
  for (const fx of manifest.fixtures) {
    const file = fx.weights_file;
    it(`${file}: keys, dtypes, shapes and parameter count match torch.load`, () => {
      const ck = readTorchCheckpoint(fixtureBytes(`rla-official/${file}`), { fileName: file });
      const sd = stateDictOf(file, ck);
      const want = listing[file];
      assert.equal(sd.size, fx.state_dict_entries);
      assert.deepEqual(
        [...sd].map(([k, t]) => [k, t.dtype, [...t.shape]]),
        want.keys,
      );
      // The manifest's `params` = float tensors minus BN running stats, each storage counted once.
      const storages = new Set<TorchStorage>();
      let params = 0;
      for (const [k, t] of sd) {
        if (t.dtype !== 'float32' || k.includes('running_') || storages.has(t.storage)) continue;
        storages.add(t.storage);
        params += t.numel;
      }
      assert.equal(params, fx.params);
      assert.equal(params, want.unique_float_params);
      for (const [k, t] of sd) {
        if (k.endsWith('num_batches_tracked')) {
          assert.equal(t.dtype, 'int64');
          assert.deepEqual(t.shape, []);
        }
      }
    });
  }

  it('rla_resnet_1111_w16.pth: the archive folder is found from data.pkl, not assumed', () => {
    const zip = readZip(fixtureBytes('rla-official/rla_resnet_1111_w16.pth'));
    assert.ok(zip.get('rla_resnet_1111_w16/data.pkl'));
    // Renaming the folder (as happens when a file is renamed before saving) still loads.
    const renamed = writeZip(
      zip.entries.map((e) => ({
        name: e.name.replace(/^rla_resnet_1111_w16\//, 'some other name/'),
        data: zip.read(e),
      })),
    );
    const sd = asMap(readTorchCheckpoint(renamed));
    assert.equal(sd.size, 137);
    const a = (sd.get('fc.bias') as TorchTensor).toFloat32Array();
    const orig = asMap(readTorchCheckpoint(fixtureBytes('rla-official/rla_resnet_1111_w16.pth')));
    assert.deepEqual(a, (orig.get('fc.bias') as TorchTensor).toFloat32Array());
  });

  it('MobileNet trainer checkpoint: structure, shared recurrent_dsconvs, lazy optimizer storages', () => {
    const file = 'dsrla_mobilenetv2_w0.5_k16_c10.checkpoint.pth.tar';
    const loaded = new Set<string>();
    const ck = asMap(
      readTorchCheckpoint(fixtureBytes(`rla-official/${file}`), {
        fileName: file,
        onStorageLoad: (s) => loaded.add(s.key),
      }),
    );
    assert.equal(loaded.size, 0, 'parsing decodes no storage');
    assert.deepEqual([...ck.keys()], ['epoch', 'arch', 'state_dict', 'best_acc1', 'optimizer']);
    assert.equal(ck.get('epoch'), 1);
    assert.equal(ck.get('arch'), 'dsrla_mobilenetv2_w0.5_k16_c10');
    const best = ck.get('best_acc1');
    assert.ok(best instanceof TorchTensor);
    assert.deepEqual(best.shape, []);
    assert.equal(best.dtype, 'float32');
    assert.equal(best.item(), 25);

    const sd = stateDictOf(file, ck);
    assert.ok([...sd.keys()].every((k) => k.startsWith('module.')));
    // Same key names (after the DDP prefix) as the official full-size listing.
    const official = fixtureJson<{ keys: { key: string; dtype: string }[] }>(
      'rla-official/state_dict_keys/dsrla_mobilenetv2_k32.json',
    );
    assert.deepEqual(
      [...sd].map(([k, t]) => [k.slice('module.'.length), t.dtype]),
      official.keys.map((e) => [e.key, e.dtype]),
    );
    const shared = [0, 1, 2, 3, 4].map((i) => sd.get(`module.recurrent_dsconvs.${i}.weight`)!);
    for (const t of shared) {
      assert.ok(sameStorage(t, shared[0]));
      assert.equal(t.storage, shared[0].storage);
      assert.deepEqual(t.shape, [16, 1, 3, 3]);
    }
    assert.equal(sameStorage(shared[0], sd.get('module.conv1.0.weight')!), false);
    for (const [k, owner] of Object.entries(listing[file].shared))
      assert.ok(sameStorage(sd.get(k)!, sd.get(owner)!));

    // Materialise every model tensor; the optimizer's momentum buffers must stay untouched.
    for (const t of sd.values()) t.dtype === 'int64' ? t.toBigInt64Array() : t.toFloat32Array();
    const opt = asMap(ck.get('optimizer'));
    const state = asMap(opt.get('state'));
    const groups = opt.get('param_groups') as Map<string, unknown>[];
    assert.equal(groups.length, 1);
    assert.equal(groups[0].get('lr'), 0.045);
    assert.equal(groups[0].get('momentum'), 0.9);
    assert.equal(groups[0].get('weight_decay'), 4e-5);
    assert.ok(state.size > 100);
    const momentumKeys = new Set<string>();
    for (const s of state.values()) {
      const buf = asMap(s).get('momentum_buffer');
      assert.ok(buf instanceof TorchTensor);
      momentumKeys.add(buf.storage.key);
      assert.equal(buf.storage.isLoaded, false);
    }
    for (const k of momentumKeys)
      assert.equal(loaded.has(k), false, `momentum storage ${k} must not be decoded`);
    // Exactly the state_dict storages plus best_acc1's were read.
    const readKeys = new Set([...sd.values(), best].map((t) => t.storage.key));
    assert.deepEqual(new Set(loaded), readKeys);
  });
});

describe('generated checkpoints (python3-torch 1.13) with exact values', () => {
  const expected = fixtureJson<Record<string, Expected>>('generated/expected.json');
  const num = (v: number | string | boolean): number =>
    v === 'Infinity'
      ? Infinity
      : v === '-Infinity'
        ? -Infinity
        : typeof v === 'boolean'
          ? v
            ? 1
            : 0
          : Number(v);

  for (const file of ['values_zip.pt', 'values_legacy.pt', 'values_proto4.pt']) {
    it(`${file}: every tensor's dtype, shape, stride, offset and values`, () => {
      const ck = asMap(readTorchCheckpoint(fixtureBytes(`generated/${file}`), { fileName: file }));
      for (const [key, e] of Object.entries(expected)) {
        const t = ck.get(key);
        assert.ok(t instanceof TorchTensor, key);
        assert.equal(t.dtype, e.dtype, key);
        assert.deepEqual(t.shape, e.shape, key);
        assert.deepEqual(t.stride, e.stride, key);
        assert.equal(t.storageOffset, e.storage_offset, key);
        if (e.dtype === 'int64') {
          assert.deepEqual(
            [...t.toBigInt64Array()],
            e.values.map((v) => BigInt(v as string)),
            key,
          );
        } else if (
          e.dtype === 'float32' ||
          e.dtype === 'float16' ||
          e.dtype === 'bfloat16' ||
          e.dtype === 'float64'
        ) {
          // float64 keeps the exact values; float32 output equals them rounded to float32.
          assert.deepEqual([...t.toFloat64Array()], e.values.map(num), key);
          assert.deepEqual(t.toFloat32Array(), Float32Array.from(e.values.map(num)), key);
        } else {
          assert.deepEqual(t.toNumberArray(), e.values.map(num), key);
        }
      }
      const tv = (k: string) => ck.get(k) as TorchTensor;
      // views, offsets, ties
      assert.equal(tv('f32_t').isContiguous(), false);
      assert.ok(sameStorage(tv('f32'), tv('f32_t')));
      assert.ok(sameStorage(tv('f32'), tv('f32_offset')));
      assert.ok(sameStorage(tv('tied_a'), tv('tied_b')));
      assert.equal(sameStorage(tv('f32'), tv('tied_a')), false);
      assert.equal(tv('param').requiresGrad, true);
      assert.equal(tv('f32').requiresGrad, false);
      // int64 beyond 2^53: exact as bigint, refused as number
      assert.throws(
        () => tv('i64').toNumberArray(),
        (err: unknown) => err instanceof CheckpointError && /9007199254740993/.test(err.message),
      );
      assert.equal(tv('num_batches_tracked').item(), 7);
      assert.equal(tv('scalar').item(), 42.5);
      assert.throws(() => tv('f32').toNumberArray(), CheckpointError);

      // non-tensor values
      const meta = asMap(ck.get('meta'));
      assert.equal(meta.get('int'), 5);
      assert.equal(meta.get('neg'), -7);
      assert.equal(meta.get('big'), 2n ** 70n);
      assert.equal(meta.get('float'), 0.5);
      assert.equal(meta.get('str'), 'h\u00e9llo');
      assert.equal(meta.get('none'), null);
      assert.equal(meta.get('true'), true);
      assert.deepEqual(meta.get('bytes'), Uint8Array.from([0, 255, 97, 98]));
      assert.equal(meta.get(7), 'int key');
      const list = meta.get('list') as unknown[];
      assert.equal(list[0], 1);
      assert.equal(list[1], 'a');
      assert.ok(isPickleTuple(list[2]));
      assert.deepEqual([...(list[2] as number[])], [2, 3]);
      assert.deepEqual([...(meta.get('set') as Set<number>)], [3]);
      const args = ck.get('args');
      assert.ok(args instanceof PickleNamespace);
      assert.equal(args.get('lr'), 0.1);
      assert.equal(args.get('arch'), 'rla');
      assert.equal(ck.get('np_acc'), 76.5);
      assert.equal(ck.get('np_int'), 3);
      const dt = ck.get('dtype');
      assert.ok(dt instanceof PickleGlobal && dt.qualifiedName === 'torch.float16');
      assert.deepEqual(ck.get('size'), [2, 3]);
    });
  }
});

describe('checkpoint errors name the file and the storage', () => {
  const good = fixtureBytes('generated/values_zip.pt');
  const zip = readZip(good);
  const rebuild = (mutate: (name: string, data: Uint8Array) => Uint8Array | null) =>
    writeZip(
      zip.entries.flatMap((e) => {
        const d = mutate(e.name, zip.read(e));
        return d ? [{ name: e.name, data: d }] : [];
      }),
    );

  it('a truncated storage record is an error naming the key', () => {
    const bad = rebuild((n, d) => (n === 'values_zip/data/0' ? d.subarray(0, d.length - 1) : d));
    assert.throws(
      () => readTorchCheckpoint(bad, { fileName: 'x.pth' }),
      (e: unknown) => e instanceof CheckpointError && /^x\.pth: storage 0 is truncated/.test(e.message),
    );
  });

  it('a missing storage record is an error naming the record', () => {
    const bad = rebuild((n, d) => (n === 'values_zip/data/3' ? null : d));
    assert.throws(
      () => readTorchCheckpoint(bad, { fileName: 'x.pth' }),
      /x\.pth: storage 3: record values_zip\/data\/3 is missing/,
    );
  });

  it('a missing data.pkl, a non-checkpoint and a tar file are rejected', () => {
    assert.throws(
      () => readTorchCheckpoint(writeZip([{ name: 'a/b', data: new Uint8Array(1) }])),
      /no data\.pkl/,
    );
    assert.throws(
      () => readTorchCheckpoint(new TextEncoder().encode('hello'), { fileName: 'h.txt' }),
      /h\.txt: not a PyTorch checkpoint/,
    );
    const tar = new Uint8Array(1024);
    tar.set(new TextEncoder().encode('ustar'), 257);
    assert.throws(() => readTorchCheckpoint(tar), /tar-format/);
  });

  it('a corrupt storage found lazily is an error naming file and key', () => {
    // Flip one byte of the data of storage 0 in place: parsing succeeds, reading fails the CRC.
    const bad = good.slice();
    const e0 = zip.get('values_zip/data/0')!;
    const start = e0.localHeaderOffset + 30 + 'values_zip/data/0'.length;
    const extra = bad[e0.localHeaderOffset + 28] | (bad[e0.localHeaderOffset + 29] << 8);
    bad[start + extra] ^= 0x40;
    const ck = asMap(readTorchCheckpoint(bad, { fileName: 'x.pth' }));
    assert.throws(
      () => (ck.get('f32') as TorchTensor).toFloat32Array(),
      (e: unknown) =>
        e instanceof CheckpointError &&
        /x\.pth: storage 0: CRC mismatch in ZIP entry values_zip\/data\/0/.test(e.message),
    );
  });
});
