/**
 * Damaged input must end in a typed WeightsFormatError (or a valid parse), never a hang or a
 * TypeError / RangeError: truncation at every cut point, byte flips, and a seeded fuzz loop.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ReadTorchCheckpointOptions,
  readSafetensors,
  readTorchCheckpoint,
  readZip,
  safetensorToFloat32Array,
  writeSafetensors,
  writeZip,
} from '../../src/weights/index.js';
import { fixtureBytes, materializeAll, prng, typedOutcome } from './_helpers.js';

function parseAll(bytes: Uint8Array, what: string, options: ReadTorchCheckpointOptions = {}): 'ok' | Error {
  return typedOutcome(() => materializeAll(readTorchCheckpoint(bytes, { fileName: what, ...options })), what);
}

/** The same archive with `data.pkl` replaced (so damage reaches the pickle VM, past the CRC). */
function withPickle(zipBytes: Uint8Array, mutate: (pkl: Uint8Array) => Uint8Array): Uint8Array {
  const zip = readZip(zipBytes);
  return writeZip(
    zip.entries.map((e) => ({
      name: e.name,
      data: e.name.endsWith('/data.pkl') ? mutate(zip.read(e)) : zip.read(e),
    })),
  );
}

describe('truncated files', () => {
  for (const file of ['values_zip.pt', 'values_legacy.pt', 'values_proto4.pt']) {
    it(`generated/${file}: every cut point of the file`, () => {
      const bytes = fixtureBytes(`generated/${file}`);
      let errors = 0;
      for (let cut = 0; cut < bytes.length; cut++) {
        if (parseAll(bytes.subarray(0, cut), `${file}[:${cut}]`) !== 'ok') errors++;
      }
      assert.equal(errors, bytes.length, 'every strict prefix is an error');
    });
  }

  it('generated/values_zip.pt: every cut point of data.pkl inside an intact archive', () => {
    const bytes = fixtureBytes('generated/values_zip.pt');
    const pklLen = readZip(bytes).entries[0].uncompressedSize;
    for (let cut = 0; cut < pklLen; cut++) {
      const outcome = parseAll(
        withPickle(bytes, (p) => p.subarray(0, cut)),
        `data.pkl[:${cut}]`,
      );
      assert.notEqual(outcome, 'ok', `cut ${cut}`);
    }
  });

  it('official MobileNet checkpoint: truncated file and truncated data.pkl', () => {
    const bytes = fixtureBytes('rla-official/dsrla_mobilenetv2_w0.5_k16_c10.checkpoint.pth.tar');
    const rnd = prng(7);
    for (let i = 0; i < 40; i++) {
      const cut = Math.floor(rnd() * bytes.length);
      assert.notEqual(parseAll(bytes.subarray(0, cut), `cut ${cut}`), 'ok');
    }
    const zip = readZip(bytes);
    const pkl = zip.read(zip.entries[0]);
    for (let i = 0; i < 40; i++) {
      const cut = Math.floor(rnd() * pkl.length);
      assert.notEqual(
        parseAll(
          withPickle(bytes, (p) => p.subarray(0, cut)),
          `pkl cut ${cut}`,
        ),
        'ok',
      );
    }
  });
});

describe('bit-flipped files', () => {
  it('generated/values_zip.pt: every byte of the file inverted (CRC on) and of data.pkl (CRC off)', () => {
    const bytes = fixtureBytes('generated/values_zip.pt');
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i] ^= 0xff;
      parseAll(bad, `flip ${i}`);
    }
    const pklLen = readZip(bytes).entries[0].uncompressedSize;
    for (let i = 0; i < pklLen; i++) {
      parseAll(
        withPickle(bytes, (p) => {
          const q = p.slice();
          q[i] ^= 0x55;
          return q;
        }),
        `pkl flip ${i}`,
        { verifyCrc: false },
      );
    }
  });

  it('generated/values_legacy.pt: every byte inverted', () => {
    const bytes = fixtureBytes('generated/values_legacy.pt');
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i] ^= 0xff;
      parseAll(bad, `legacy flip ${i}`);
    }
  });
});

describe('seeded fuzz', () => {
  it('300+ random mutations of checkpoints and safetensors: typed error or valid parse, bounded time', () => {
    const t0 = Date.now();
    const rnd = prng(0x5eed);
    const int = (n: number) => Math.floor(rnd() * n);
    const mutate = (src: Uint8Array): Uint8Array => {
      const kind = int(3);
      if (kind === 0) {
        const b = src.slice();
        for (let k = 1 + int(8); k > 0; k--) b[int(b.length)] = int(256);
        return b;
      }
      if (kind === 1) return src.slice(0, int(src.length));
      const at = int(src.length + 1);
      const ins = Uint8Array.from({ length: 1 + int(16) }, () => int(256));
      const b = new Uint8Array(src.length + ins.length);
      b.set(src.subarray(0, at));
      b.set(ins, at);
      b.set(src.subarray(at), at + ins.length);
      return b;
    };
    const mobile = fixtureBytes('rla-official/dsrla_mobilenetv2_w0.5_k16_c10.checkpoint.pth.tar');
    const mobileZip = readZip(mobile);
    const mobilePkl = mobileZip.read(mobileZip.entries[0]);
    const sources = ['values_zip.pt', 'values_legacy.pt', 'values_proto4.pt'].map((f) =>
      fixtureBytes(`generated/${f}`),
    );
    const st = writeSafetensors(
      [
        ['a', { dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }],
        ['b', { dtype: 'I64', shape: [1], data: BigInt64Array.from([5n]) }],
        ['c', { dtype: 'BF16', shape: [3], data: Uint16Array.from([1, 2, 3]) }],
      ],
      { k: 'v' },
    );
    const counts = { ok: 0, error: 0 };
    const record = (o: 'ok' | Error) => (o === 'ok' ? counts.ok++ : counts.error++);
    for (let i = 0; i < 360; i++) {
      const which = i % 6;
      if (which < 3) {
        record(parseAll(mutate(sources[which]), `fuzz ${i} file`));
      } else if (which < 5) {
        // Damage the pickle of a generated or the official checkpoint, bypassing the CRC check.
        const base = which === 3 ? sources[which - 3] : mobile;
        const pkl = which === 3 ? readZip(base).read(readZip(base).entries[0]) : mobilePkl;
        const m = mutate(pkl);
        record(
          parseAll(
            withPickle(base, () => m),
            `fuzz ${i} pickle`,
            { verifyCrc: false },
          ),
        );
      } else {
        record(
          typedOutcome(() => {
            for (const t of readSafetensors(mutate(st)).tensors.values()) safetensorToFloat32Array(t);
          }, `fuzz ${i} safetensors`),
        );
      }
    }
    const elapsed = Date.now() - t0;
    assert.equal(counts.ok + counts.error, 360);
    assert.ok(counts.error > 100, `most mutations are detected (${JSON.stringify(counts)})`);
    // A hang is the failure this bound catches: ~4 s on an idle 2-core machine, generous for loaded CI hosts.
    assert.ok(elapsed < 90_000, `fuzz loop took ${elapsed} ms`);
  });
});
