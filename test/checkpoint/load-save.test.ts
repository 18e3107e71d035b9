import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { inferArchitecture } from '../../src/checkpoint/infer-architecture.js';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { loadModelFile, saveModelFile } from '../../src/checkpoint/model-file.js';
import { toPthBytes, toSafetensorsBytes } from '../../src/checkpoint/save-checkpoint.js';
import { readStateDict } from '../../src/checkpoint/state-dict-source.js';
import { main } from '../../src/cli/main.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { CheckpointError } from '../../src/weights/errors.js';
import { readSafetensors, safetensorToFloat32Array } from '../../src/weights/safetensors.js';
import { nhwcInput, officialBytes, RESNET_FIXTURES, readFixtureTensors } from '../helpers/fixtures.js';
import { fixturePath } from '../helpers/paths.js';
import { assertClose, assertNoLeak, maxAbs } from '../helpers/tensors.js';

const [SMALL, ECA] = RESNET_FIXTURES;

describe('checkpoint loading and saving', () => {
  let directory = '';
  before(async () => {
    await initBackend({ backend: 'cpu' });
    directory = mkdtempSync(join(tmpdir(), 'rla-ckpt-'));
  });
  after(() => rmSync(directory, { recursive: true, force: true }));

  it('loads an official plain state_dict strictly and leaks no tensors', async () => {
    const model = createModel(SMALL.model, SMALL.options);
    const report = await assertNoLeak(
      () => loadCheckpoint(model, officialBytes(`${SMALL.fixture}.pth`)),
      'loadCheckpoint',
    );
    assert.deepEqual([report.missing, report.unexpected, report.mismatched], [[], [], []]);
    assert.equal(report.source.format, 'pytorch-zip');
    assert.equal(report.source.unwrappedFrom, null);
    model.dispose();
  });

  it('unwraps trainer checkpoints and strips module. prefixes', () => {
    const source = readStateDict(officialBytes('dsrla_mobilenetv2_w0.5_k16_c10.checkpoint.pth.tar'));
    assert.equal(source.unwrappedFrom, 'state_dict');
    assert.ok([...source.tensors.keys()].every((key) => !key.startsWith('module.')));
    assert.ok(source.tensors.has('recurrent_dsconvs.4.weight'));
    assert.equal(source.info.arch, 'dsrla_mobilenetv2_w0.5_k16_c10');
    assert.equal(source.info.epoch, 1);
  });

  it("reports another model's checkpoint key by key, with shapes and nearest keys", () => {
    const model = createModel(SMALL.model, SMALL.options);
    assert.throws(
      () => loadCheckpoint(model, officialBytes(`${ECA.fixture}.pth`), { fileName: 'eca.pth' }),
      (error: Error) => {
        assert.ok(error instanceof CheckpointError);
        assert.match(error.message, /^eca\.pth: weights do not fit the model/);
        assert.match(
          error.message,
          /shape mismatch stages\.0\.0\.conv1\.weight: model expects \[16,96,1,1\], file has \[8,96,1,1\]/,
        );
        assert.match(
          error.message,
          /unexpected in file: stages\.0\.1\.conv1\.weight \(nearest model key: stages\.0\.0\.conv1\.weight\)/,
        );
        assert.match(error.message, /unexpected in file: stages\.0\.0\.eca\.conv\.weight/);
        return true;
      },
    );
    const report = loadCheckpoint(model, officialBytes(`${ECA.fixture}.pth`), { strict: false });
    assert.ok(
      report.mismatched.some((m) => m.key === 'fc.weight') === false,
      'fc fits: both have 2080 -> 10',
    );
    assert.ok(report.unexpected.includes('stage_bns.0.1.weight'));
    assert.ok(report.mismatched.length > 0 && report.missing.length === 0);
    model.dispose();
  });

  it('round-trips through safetensors and .pth with identical outputs, and rebuilds from metadata', async () => {
    const model = createModel(ECA.model, ECA.options);
    loadCheckpoint(model, officialBytes(`${ECA.fixture}.pth`));
    model.eval();
    const x = nhwcInput(readFixtureTensors(`${ECA.fixture}.eval.safetensors`).get('input')!);
    const reference = model.forward(x);
    for (const file of ['model.safetensors', 'model.pth']) {
      const path = join(directory, file);
      await saveModelFile(model, path);
      const loaded = await loadModelFile(path);
      // safetensors carry the model identity; a .pth is recognised from its keys and shapes.
      assert.match(loaded.chosenBy, file.endsWith('.safetensors') ? /^file metadata$/ : /^inferred: /);
      assert.equal(loaded.model.registryName, ECA.model);
      loaded.model.eval();
      const y = loaded.model.forward(x);
      assert.deepEqual(
        Array.from(y.dataSync()),
        Array.from(reference.dataSync()),
        `${file} reloads bit-identically`,
      );
      y.dispose();
      loaded.model.dispose();
    }
    // The .pth we write is byte-for-byte the official tensors (checked by torch.load by hand, see docs).
    const official = readStateDict(officialBytes(`${ECA.fixture}.pth`));
    const ours = readStateDict(toPthBytes(model));
    for (const [key, tensor] of official.tensors) {
      assert.deepEqual(Array.from(ours.tensors.get(key)!.toFloat32()), Array.from(tensor.toFloat32()), key);
    }
    const meta = readSafetensors(
      toSafetensorsBytes(model, { name: ECA.model, options: ECA.options }),
    ).metadata;
    assert.equal(meta.model, ECA.model);
    assert.deepEqual(JSON.parse(meta.options), ECA.options);
    tf.dispose([x, reference]);
    model.dispose();
  });

  it('infers the architecture of official checkpoints from keys and shapes', () => {
    for (const { fixture, model, options } of RESNET_FIXTURES) {
      const source = readStateDict(officialBytes(`${fixture}.pth`));
      const inferred = inferArchitecture(new Map([...source.tensors].map(([k, t]) => [k, t.shape])));
      assert.equal(inferred.name, model);
      assert.deepEqual(inferred.options, options.ecaKernelSizes ? { ...options } : options);
    }
    const trainer = readStateDict(officialBytes('dsrla_mobilenetv2_w0.5_k16_c10.checkpoint.pth.tar'));
    const mobile = inferArchitecture(new Map([...trainer.tensors].map(([k, t]) => [k, t.shape])));
    assert.deepEqual(
      [mobile.name, mobile.options],
      ['dsrla_mobilenetv2', { numClasses: 10, widthMult: 0.5, rlaChannel: 16 }],
    );
    assert.throws(() => inferArchitecture(new Map([['foo.weight', [1]]])), /cannot infer the architecture/);
  });

  it('rla run reproduces the official logits and intermediates from the command line', async () => {
    const output = join(directory, 'run.safetensors');
    const lines: string[] = [];
    const code = await main(
      [
        'run',
        '--weights',
        fixturePath('rla-official', `${SMALL.fixture}.pth`),
        '--input',
        fixturePath('rla-official', `${SMALL.fixture}.eval.safetensors`),
        '-o',
        output,
        '--intermediates',
        '--backend',
        'cpu',
      ],
      (line) => lines.push(line),
    );
    assert.equal(code, 0, lines.join('\n'));
    const written = readSafetensors(new Uint8Array(readFileSync(output))).tensors;
    const expected = readFixtureTensors(`${SMALL.fixture}.eval.safetensors`);
    for (const [key, ref] of expected) {
      if (key === 'input') continue;
      const ours = written.get(key);
      assert.ok(ours, `rla run wrote no ${key}`);
      assert.deepEqual([...ours.shape], ref.shape);
      const tolerance = key === 'logits' ? 1e-4 * Math.max(1, maxAbs(ref.data)) : 1e-3 * maxAbs(ref.data);
      assertClose(safetensorToFloat32Array(ours), ref.data, tolerance, key);
    }
  });

  it('rla convert names the file and the problem for a file that is not a checkpoint', async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      const code = await main([
        'convert',
        fixturePath('spec', 'official-counts.json'),
        '-o',
        join(directory, 'x.safetensors'),
      ]);
      assert.equal(code, 1);
    } finally {
      console.error = original;
    }
    assert.match(errors.join('\n'), /not a PyTorch checkpoint/);
  });
});
