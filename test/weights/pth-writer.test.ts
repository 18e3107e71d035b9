import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CheckpointError,
  numberToFloat16Bits,
  type PthTensorInput,
  readTorchCheckpoint,
  readZip,
  sameStorage,
  type TorchTensor,
  writeTorchCheckpoint,
} from '../../src/weights/index.js';
import { fixtureBytes } from './_helpers.js';

const dec = new TextDecoder();

describe('writeTorchCheckpoint', () => {
  const tied = Float32Array.from([0.5, -1, 2, 3.25, 4, 5, 6, 7, 8]);
  const entries: [string, PthTensorInput][] = [
    [
      'conv.weight',
      { dtype: 'float32', shape: [2, 1, 2, 2], data: Float32Array.from([1, -2, 3.5, 4, 5, 6, 7, 1e-8]) },
    ],
    ['bn.running_mean', { dtype: 'float32', shape: [2], data: Float32Array.from([0.25, -0.125]) }],
    ['bn.num_batches_tracked', { dtype: 'int64', shape: [], data: BigInt64Array.from([2n ** 60n + 1n]) }],
    [
      'half',
      { dtype: 'float16', shape: [3], data: Uint16Array.from([1, -0.5, 65504].map(numberToFloat16Bits)) },
    ],
    ['mask', { dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) }],
    ['idx', { dtype: 'int32', shape: [2], data: Int32Array.from([-7, 1 << 30]) }],
    ['rec.0.weight', { dtype: 'float32', shape: [1, 1, 3, 3], data: tied }],
    ['rec.1.weight', { dtype: 'float32', shape: [1, 1, 3, 3], data: tied }],
    ['rec.2.weight', { dtype: 'float32', shape: [1, 1, 3, 3], data: tied.slice() }],
    ['empty', { dtype: 'float32', shape: [0], data: new Float32Array(0) }],
  ];

  it('writes the PyTorch zip layout, 64-byte aligned, readable by our reader with exact values and ties', () => {
    const bytes = writeTorchCheckpoint(entries, {
      archiveName: 'rla_test',
      sharedGroups: [['rec.0.weight', 'rec.1.weight', 'rec.2.weight']],
    });
    const zip = readZip(bytes);
    const names = zip.entries.map((e) => e.name);
    assert.equal(names[0], 'rla_test/data.pkl');
    assert.ok(names.includes('rla_test/version'));
    assert.equal(dec.decode(zip.read(zip.get('rla_test/version')!)), '3\n');
    assert.equal(dec.decode(zip.read(zip.get('rla_test/byteorder')!)), 'little');
    // Ten keys but nine storages: the tie group shares one record.
    assert.equal(names.filter((n) => n.startsWith('rla_test/data/')).length, entries.length - 2);
    for (const e of zip.entries) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset);
      const at =
        e.localHeaderOffset +
        30 +
        dv.getUint16(e.localHeaderOffset + 26, true) +
        dv.getUint16(e.localHeaderOffset + 28, true);
      assert.equal(at % 64, 0, `${e.name} aligned`);
    }
    // The pickle only uses the allowlisted globals.
    const pkl = dec.decode(zip.read(zip.get('rla_test/data.pkl')!));
    assert.ok(
      pkl.includes('collections\nOrderedDict\n') && pkl.includes('torch._utils\n_rebuild_tensor_v2\n'),
    );

    const back = readTorchCheckpoint(bytes, { fileName: 'rla_test.pth' }) as Map<string, TorchTensor>;
    assert.deepEqual(
      [...back.keys()],
      entries.map(([k]) => k),
    );
    for (const [k, t] of entries) {
      const r = back.get(k)!;
      assert.equal(r.dtype, t.dtype, k);
      assert.deepEqual(r.shape, t.shape, k);
      assert.equal(r.requiresGrad, false);
      assert.deepEqual(r.toBytes(), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), k);
    }
    assert.equal(back.get('bn.num_batches_tracked')!.item(), 2n ** 60n + 1n);
    assert.deepEqual(back.get('half')!.toFloat32Array(), Float32Array.from([1, -0.5, 65504]));
    assert.ok(sameStorage(back.get('rec.0.weight')!, back.get('rec.1.weight')!));
    assert.ok(sameStorage(back.get('rec.0.weight')!, back.get('rec.2.weight')!));
    assert.equal(sameStorage(back.get('rec.0.weight')!, back.get('conv.weight')!), false);
    assert.deepEqual(back.get('conv.weight')!.stride, [4, 4, 2, 1]);
  });

  it('re-writes an official checkpoint losslessly (keys, dtypes, shapes, bytes)', () => {
    const orig = readTorchCheckpoint(fixtureBytes('rla-official/rla_resnet_1111_w16.pth')) as Map<
      string,
      TorchTensor
    >;
    const input: [string, PthTensorInput][] = [...orig].map(([k, t]) => [
      k,
      { dtype: t.dtype, shape: t.shape, data: t.toBytes() },
    ]);
    const bytes = writeTorchCheckpoint(input, { archiveName: 'rla_resnet_1111_w16' });
    const back = readTorchCheckpoint(bytes) as Map<string, TorchTensor>;
    assert.equal(back.size, orig.size);
    for (const [k, t] of orig) {
      const r = back.get(k)!;
      assert.equal(r.dtype, t.dtype);
      assert.deepEqual(r.shape, t.shape);
      assert.deepEqual(r.toBytes(), t.toBytes(), k);
    }
  });

  it('validates its input', () => {
    const one: [string, PthTensorInput][] = [
      ['a', { dtype: 'float32', shape: [2], data: new Float32Array(2) }],
    ];
    assert.throws(() => writeTorchCheckpoint(one, { archiveName: 'a/b' }), CheckpointError);
    assert.throws(() => writeTorchCheckpoint(one, { archiveName: '' }), CheckpointError);
    assert.throws(
      () =>
        writeTorchCheckpoint([['a', { dtype: 'float32', shape: [3], data: new Float32Array(2) }]], {
          archiveName: 'x',
        }),
      /key a: shape \[3\] x float32 needs 12 bytes/,
    );
    assert.throws(() => writeTorchCheckpoint([...one, ...one], { archiveName: 'x' }), /appears twice/);
    const two: [string, PthTensorInput][] = [
      ...one,
      ['b', { dtype: 'float32', shape: [2], data: Float32Array.from([1, 0]) }],
    ];
    assert.throws(
      () => writeTorchCheckpoint(two, { archiveName: 'x', sharedGroups: [['a', 'b']] }),
      /b differs from a/,
    );
    assert.throws(
      () => writeTorchCheckpoint(two, { archiveName: 'x', sharedGroups: [['a', 'zz']] }),
      /zz is not among/,
    );
  });
});
