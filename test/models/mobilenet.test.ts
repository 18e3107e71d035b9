import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { toPthBytes, toSafetensorsBytes } from '../../src/checkpoint/save-checkpoint.js';
import { type BackendName, initBackend } from '../../src/engine/backend.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createModel } from '../../src/models/index.js';
import { makeDivisible, mobileNetV2Layout } from '../../src/models/mobilenetv2-config.js';
import type { Parameter } from '../../src/nn/module.js';
import { torchShapeOf } from '../../src/nn/tensor-layout.js';
import { readTorchCheckpoint } from '../../src/weights/torch-checkpoint.js';
import { sameStorage, TorchTensor } from '../../src/weights/torch-tensor.js';
import { nhwcInput, officialBytes, readFixtureTensors } from '../helpers/fixtures.js';
import { fixturePath } from '../helpers/paths.js';
import { assertNoLeak, maxAbsDiff } from '../helpers/tensors.js';
import { assertMatchesReference, describeDifferences } from './_reference.js';

const FIXTURE = 'dsrla_mobilenetv2_w0.5_k16_c10';
/** dsRLA_MobileNetV2(num_classes=10, width_mult=0.5, rla_channel=16), as the fixture was built. */
const FIXTURE_OPTIONS = { numClasses: 10, widthMult: 0.5, rlaChannel: 16 };

/** The keys under which `parameter` is listed in the model's state dict. */
function keysOf(model: ClassifierModel, parameter: Parameter): string[] {
  return model
    .stateEntries()
    .filter((entry) => entry.owner === parameter)
    .map((entry) => entry.key);
}

function recurrentKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `recurrent_dsconvs.${i}.weight`);
}

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`dsRLA-MobileNetV2 parity with the official code (${backend})`, () => {
    let model: ClassifierModel;
    before(async () => {
      await initBackend({ backend });
      model = createModel('dsrla_mobilenetv2', { ...FIXTURE_OPTIONS, seed: 5 });
    });
    after(() => model.dispose());

    it('loads the trainer checkpoint (module. prefix, arch, optimizer state, five tied keys)', () => {
      const report = loadCheckpoint(model, officialBytes(`${FIXTURE}.checkpoint.pth.tar`), {
        fileName: `${FIXTURE}.checkpoint.pth.tar`,
      });
      assert.equal(report.source.unwrappedFrom, 'state_dict');
      assert.equal(
        report.source.info.arch,
        FIXTURE,
        'train_light.py stores `arch`; it is informational only',
      );
      assert.deepEqual([report.missing, report.unexpected, report.mismatched], [[], [], []]);
      const shared = model.stateEntries().find((e) => e.key === 'recurrent_dsconvs.0.weight')
        ?.owner as Parameter;
      assert.deepEqual(keysOf(model, shared), recurrentKeys(5));
    });

    it('matches the official logits within 1e-4 and every intermediate within 1e-3 of its scale', (t) => {
      const reference = readFixtureTensors(`${FIXTURE}.eval.safetensors`);
      const input = nhwcInput(reference.get('input')!);
      model.eval();
      const outputs = model.forwardIntermediates(input);
      try {
        const differences = assertMatchesReference(outputs, reference, `${FIXTURE} on ${backend}`);
        assert.equal(differences.length, reference.size - 1, 'every reference tensor was compared');
        t.diagnostic(describeDifferences(differences));
      } finally {
        tf.dispose([input, ...Object.values(outputs)]);
      }
    });
  });
}

describe('dsRLA-MobileNetV2 state dict and weights round trip', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  for (const name of ['dsrla_mobilenetv2_k32', 'dsrla_mobilenetv2_k32_eca']) {
    it(`${name}: keys, order, torch shapes, dtypes and aliases equal the official state_dict`, () => {
      const official: {
        trainable_params: number;
        keys: Array<{ key: string; shape: number[]; dtype: string; aliases?: string }>;
      } = JSON.parse(readFileSync(fixturePath('rla-official', 'state_dict_keys', `${name}.json`), 'utf8'));
      const model = createModel(name, { seed: 1 });
      try {
        const entries = model.stateEntries();
        assert.deepEqual(
          entries.map((e) => e.key),
          official.keys.map((k) => k.key),
        );
        const firstKeyOf = new Map<unknown, string>();
        entries.forEach((entry, i) => {
          const expected = official.keys[i];
          assert.deepEqual(torchShapeOf(entry.tensor.shape, entry.layout), expected.shape, entry.key);
          assert.equal(
            entry.tensor.dtype === 'int32' ? 'int64' : entry.tensor.dtype,
            expected.dtype,
            entry.key,
          );
          assert.equal(firstKeyOf.get(entry.owner), expected.aliases, `${entry.key} aliases`);
          if (!firstKeyOf.has(entry.owner)) firstKeyOf.set(entry.owner, entry.key);
        });
        const unique = model.parameters().reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
        assert.equal(unique, official.trainable_params);
      } finally {
        model.dispose();
      }
    });
  }

  it('saves and reloads (pth and safetensors) with identical outputs; the shared conv stays one parameter', () => {
    const source = createModel('dsrla_mobilenetv2', { ...FIXTURE_OPTIONS, seed: 21 });
    const input = tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    try {
      source.eval();
      const expected = source.forward(input);
      const pth = toPthBytes(source);
      // The .pth lists the shared conv under five keys of ONE storage, as torch.save does.
      const saved = readTorchCheckpoint(pth) as Map<string, TorchTensor>;
      const tied = recurrentKeys(5).map((key) => saved.get(key));
      assert.ok(tied.every((t) => t instanceof TorchTensor && sameStorage(t, tied[0] as TorchTensor)));
      for (const bytes of [pth, toSafetensorsBytes(source, null)]) {
        const restored = createModel('dsrla_mobilenetv2', { ...FIXTURE_OPTIONS, seed: 99 });
        try {
          loadCheckpoint(restored, bytes);
          restored.eval();
          const actual = restored.forward(input);
          assert.equal(maxAbsDiff(actual.dataSync(), expected.dataSync()), 0);
          actual.dispose();
          const shared = restored.parameters().filter((p) => keysOf(restored, p).length > 1);
          assert.equal(shared.length, 1, 'one parameter is listed under several keys');
          assert.deepEqual(keysOf(restored, shared[0]), recurrentKeys(5));
          assert.equal(restored.parameters().length, source.parameters().length);
        } finally {
          restored.dispose();
        }
      }
      expected.dispose();
    } finally {
      input.dispose();
      source.dispose();
    }
  });

  it('trains the shared recurrent conv as one parameter: one gradient for its five keys', () => {
    const model = createModel('dsrla_mobilenetv2', { ...FIXTURE_OPTIONS, seed: 4 });
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
    try {
      const shared = model.stateEntries().find((e) => e.key === 'recurrent_dsconvs.3.weight')
        ?.owner as Parameter;
      const { value, grads } = tf.variableGrads(() => tf.sum(model.forward(x)) as tf.Scalar);
      assert.equal(Object.keys(grads).length, model.parameters().length);
      assert.ok(grads[shared.variable.name], 'the shared conv has a gradient');
      tf.dispose([value, ...Object.values(grads)]);
    } finally {
      x.dispose();
      model.dispose();
    }
  });
});

describe('MobileNetV2 family behaviour', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('rounds channels like the official _make_divisible', () => {
    assert.deepEqual(
      [makeDivisible(16), makeDivisible(12), makeDivisible(4), makeDivisible(1280 * 1.4)],
      [16, 16, 8, 1792],
    );
    const layout = mobileNetV2Layout({ numClasses: 10, widthMult: 0.5, eca: true });
    assert.equal(layout.stemChannels, 16);
    assert.equal(layout.lastChannels, 1280);
    assert.deepEqual(
      layout.stages.map((stage) => stage.blocks[0].outChannels),
      [8, 16, 16, 32, 48, 80, 160],
    );
    // The ECA kernel follows the row's base channels (c < 96 -> 1), not the width-multiplied ones.
    assert.deepEqual(
      layout.stages.map((stage) => stage.blocks[0].ecaKernelSize),
      [1, 1, 1, 1, 3, 3, 3],
    );
  });

  it('rejects input sizes where the floor-pooled h and the ceil-strided x disagree', () => {
    const model = createModel('dsrla_mobilenetv2', { ...FIXTURE_OPTIONS, seed: 1 });
    try {
      assert.throws(
        () => tf.tidy(() => model.forward(tf.zeros([1, 48, 48, 3]))),
        /input height 48 is not supported by the official RLA-MobileNetV2.*nearest working sizes: 32, 63/,
      );
      const shape = tf.tidy(() => model.forward(tf.zeros([1, 63, 64, 3])).shape);
      assert.deepEqual(shape, [1, 10]);
    } finally {
      model.dispose();
    }
  });

  it('initialises like the official code: BN (1, 0), classifier N(0, 0.01) with zero bias', () => {
    const model = createModel('rla_mobilenetv2', { numClasses: 100, seed: 3 });
    try {
      const state = model.stateDict();
      const weight = state.get('classifier.1.weight')!.dataSync() as Float32Array;
      const std = Math.sqrt(weight.reduce((sum, v) => sum + v * v, 0) / weight.length);
      assert.ok(Math.abs(std - 0.01) < 0.0005, `classifier std ${std}`);
      assert.ok(
        state
          .get('classifier.1.bias')!
          .dataSync()
          .every((v) => v === 0),
      );
      assert.ok(
        state
          .get('stage_bns.3.1.weight')!
          .dataSync()
          .every((v) => v === 1),
      );
      assert.deepEqual(state.get('recurrent_convs.0.weight')!.shape, [3, 3, 32, 32], 'dense recurrent conv');
    } finally {
      model.dispose();
    }
  });

  it('applies dropout only in training mode, reproducibly from the seed, without leaks', async () => {
    const build = () => createModel('mobilenet_v2', { numClasses: 10, widthMult: 0.35, seed: 7 });
    const [a, b] = [build(), build()];
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    try {
      await assertNoLeak(() => {
        const runs = [a, a, b].map((model) => tf.tidy(() => model.forward(x).dataSync()));
        assert.ok(maxAbsDiff(runs[0], runs[1]) > 0, 'a fresh dropout mask per training step');
        assert.equal(maxAbsDiff(runs[0], runs[2]), 0, 'the same masks from the same seed');
        a.eval();
        const evals = [a, a].map((model) => tf.tidy(() => model.forward(x).dataSync()));
        assert.equal(maxAbsDiff(evals[0], evals[1]), 0, 'eval mode is deterministic');
      }, 'train/eval forward');
    } finally {
      x.dispose();
      a.dispose();
      b.dispose();
    }
  });
});
