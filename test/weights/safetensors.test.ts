import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  numberToFloat16Bits,
  readSafetensors,
  SafetensorsError,
  type SafetensorsInput,
  safetensorToFloat32Array,
  writeSafetensors,
} from '../../src/weights/index.js';
import { fixtureBytes, fixtureJson } from './_helpers.js';

const manifest = fixtureJson<{
  fixtures: {
    eval_file: string;
    eval_tensors: Record<string, number[]>;
    train_file?: string;
    train_tensors?: Record<string, [number[], string]>;
  }[];
}>('rla-official/manifest.json');

/** Builds a file from a raw header object and a data section (to craft invalid files). */
function craft(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors: official eval/train fixtures', () => {
  for (const fx of manifest.fixtures) {
    it(`${fx.eval_file}: names and shapes match the manifest`, () => {
      const st = readSafetensors(fixtureBytes(`rla-official/${fx.eval_file}`));
      assert.deepEqual([...st.tensors.keys()].sort(), Object.keys(fx.eval_tensors).sort());
      for (const [name, shape] of Object.entries(fx.eval_tensors)) {
        const t = st.tensors.get(name)!;
        assert.equal(t.dtype, 'F32');
        assert.deepEqual(t.shape, shape);
        assert.equal(
          safetensorToFloat32Array(t).length,
          shape.reduce((a, b) => a * b, 1),
        );
      }
    });
    if (fx.train_file && fx.train_tensors) {
      it(`${fx.train_file}: dtypes include I64 labels`, () => {
        const st = readSafetensors(fixtureBytes(`rla-official/${fx.train_file}`));
        for (const [name, [shape, dtype]] of Object.entries(fx.train_tensors!)) {
          const t = st.tensors.get(name)!;
          assert.deepEqual(t.shape, shape);
          assert.equal(t.dtype, dtype === 'int64' ? 'I64' : 'F32');
        }
        const loss = safetensorToFloat32Array(st.tensors.get('loss')!);
        assert.ok(Math.abs(loss[0] - 2.434535) < 1e-6);
      });
    }
  }
});

describe('safetensors: write -> read', () => {
  it('round-trips every dtype exactly, with metadata, in order, header padded to 8 bytes', () => {
    const f16 = Uint16Array.from([0, 1, -2.5, 65504, 0.1].map(numberToFloat16Bits));
    const tensors: [string, SafetensorsInput][] = [
      ['w', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }],
      ['half', { dtype: 'F16', shape: [5], data: f16 }],
      ['bf', { dtype: 'BF16', shape: [2], data: Uint16Array.from([0x3f80, 0xc049]) }],
      ['d', { dtype: 'F64', shape: [1], data: Float64Array.from([1 / 3]) }],
      ['n', { dtype: 'I64', shape: [], data: BigInt64Array.from([2n ** 62n]) }],
      ['i', { dtype: 'I32', shape: [2], data: Int32Array.from([-1, 7]) }],
      ['s', { dtype: 'I16', shape: [1], data: Int16Array.from([-300]) }],
      ['c', { dtype: 'I8', shape: [1], data: Int8Array.from([-3]) }],
      ['u', { dtype: 'U8', shape: [3], data: Uint8Array.from([0, 128, 255]) }],
      ['b', { dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) }],
      ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
    ];
    const bytes = writeSafetensors(tensors, { format: 'pt', note: 'caf\u00e9' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(headerLen % 8, 0);
    const st = readSafetensors(bytes);
    assert.deepEqual(st.metadata, { format: 'pt', note: 'caf\u00e9' });
    // Reader order = data order; the empty tensor sits at the end offset of its predecessor.
    assert.deepEqual(new Set(st.tensors.keys()), new Set(tensors.map(([n]) => n)));
    for (const [name, t] of tensors) {
      const r = st.tensors.get(name)!;
      assert.equal(r.dtype, t.dtype, name);
      assert.deepEqual(r.shape, t.shape, name);
      assert.deepEqual(r.data, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), name);
    }
    assert.deepEqual(
      safetensorToFloat32Array(st.tensors.get('half')!),
      Float32Array.from([0, 1, -2.5, 65504, 0.0999755859375]),
    );
    assert.deepEqual(safetensorToFloat32Array(st.tensors.get('bf')!), Float32Array.from([1, -3.140625]));
    // Byte-identical when written again from what was read.
    assert.deepEqual(writeSafetensors(st.tensors, st.metadata), bytes);
  });

  it('writer validates sizes, dtypes and names', () => {
    assert.throws(
      () => writeSafetensors([['x', { dtype: 'F32', shape: [3], data: new Float32Array(2) }]]),
      /tensor x: shape \[3\] x F32 needs 12 bytes, data has 8/,
    );
    assert.throws(
      () => writeSafetensors([['x', { dtype: 'Q8' as 'F32', shape: [1], data: new Uint8Array(1) }]]),
      /tensor x: unknown dtype/,
    );
    assert.throws(
      () => writeSafetensors([['__metadata__', { dtype: 'U8', shape: [1], data: new Uint8Array(1) }]]),
      /reserved/,
    );
  });
});

describe('safetensors: invalid files are rejected with the tensor named', () => {
  const four = new Uint8Array(4);
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(4), /too short/],
    [
      'header length past the file',
      (() => {
        const b = craft({});
        new DataView(b.buffer).setBigUint64(0, 1000n, true);
        return b;
      })(),
      /header length 1000 exceeds/,
    ],
    [
      'huge header length',
      (() => {
        const b = craft({});
        new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true);
        return b;
      })(),
      /exceeds/,
    ],
    ['bad JSON', craft(null, four, '{"a": '), /not valid UTF-8 JSON/],
    ['JSON array', craft([1, 2]), /not a JSON object/],
    [
      'unknown dtype',
      craft({ t: { dtype: 'F8', shape: [1], data_offsets: [0, 4] } }, four),
      /tensor t: unknown dtype "F8"/,
    ],
    [
      'bad shape',
      craft({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, four),
      /tensor t: bad shape/,
    ],
    [
      'offsets reversed',
      craft({ t: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, four),
      /tensor t: bad data_offsets/,
    ],
    [
      'offsets past data',
      craft({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, four),
      /tensor t: data_offsets \[0, 8\] exceed/,
    ],
    [
      'size mismatch',
      craft({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, four),
      /tensor t: shape \[2\] x F32 needs 8 bytes/,
    ],
    [
      'overlap',
      craft(
        {
          a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
          b: { dtype: 'U8', shape: [2], data_offsets: [2, 4] },
        },
        four,
      ),
      /tensor b: .*overlaps/,
    ],
    ['gap', craft({ a: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } }, four), /tensor a: gap/],
    [
      'trailing bytes',
      craft({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, four),
      /2 trailing bytes/,
    ],
    ['metadata not strings', craft({ __metadata__: { a: 1 } }), /__metadata__ value of a is not a string/],
    ['entry not object', craft({ t: 5 }), /tensor t: entry is not an object/],
  ];
  for (const [what, bytes, re] of cases) {
    it(what, () => {
      assert.throws(
        () => readSafetensors(bytes),
        (e: unknown) => e instanceof SafetensorsError && re.test(e.message),
      );
    });
  }

  it('a megabyte-long name and a million-entry shape are echoed bounded, not whole', () => {
    const name = 'n'.repeat(1_000_000);
    const shape = new Array(1_000_000).fill('x');
    assert.throws(
      () => readSafetensors(craft({ [name]: { dtype: 'F32', shape, data_offsets: [0, 4] } }, four)),
      (e: unknown) =>
        e instanceof SafetensorsError &&
        e.message.length < 400 &&
        e.message ===
          `tensor ${'n'.repeat(120)}… (1000000 chars): bad shape list of 1000000 items ["x", "x", "x", ...]`,
    );
  });

  it('a __proto__ tensor name is data, not prototype pollution', () => {
    const st = readSafetensors(
      craft(
        { __proto__: { dtype: 'U8', shape: [4], data_offsets: [0, 4] } },
        four,
        '{"__proto__":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}',
      ),
    );
    assert.deepEqual([...st.tensors.keys()], ['__proto__']);
    assert.equal(({} as Record<string, unknown>).dtype, undefined);
  });
});
