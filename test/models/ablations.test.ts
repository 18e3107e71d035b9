import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { infoCommand } from '../../src/cli/commands/info.js';
import { countParams, countThopParams } from '../../src/count/count.js';
import { initBackend } from '../../src/engine/backend.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createModel } from '../../src/models/index.js';
import type { ModelOptions } from '../../src/models/registry.js';
import type { RLAResNet } from '../../src/models/rla-resnet.js';
import { GroupNorm } from '../../src/nn/groupnorm.js';
import { torchShapeOf } from '../../src/nn/tensor-layout.js';
import { nhwcInput } from '../helpers/fixtures.js';
import { fixturePath } from '../helpers/paths.js';
import { assertNoLeak, maxAbsDiff } from '../helpers/tensors.js';
import { loadDeterministicWeights } from './_deterministic-weights.js';
import { assertClose, describeDifferences, readReferenceFile } from './_reference.js';

/** The small configurations make_reference.py builds the official classes with. */
const RESNET: ModelOptions = { layers: [2, 1, 1, 1], widthPerGroup: 8, numClasses: 10, rlaChannel: 16 };
const MOBILENET: ModelOptions = { numClasses: 10, widthMult: 0.5, rlaChannel: 16 };
const ECA = { ecaKernelSizes: [3, 3, 5, 5] };

const REFERENCE_OPTIONS: Record<string, ModelOptions> = {
  rla_resnet50: RESNET,
  rlav1_resnet50: RESNET,
  rlav1_resnet50_eca: { ...RESNET, ...ECA },
  rlav2_resnet50: RESNET,
  rlav3_resnet50: RESNET,
  rlav4_resnet50: RESNET,
  rlav5_resnet50: RESNET,
  rlav6_resnet50: RESNET,
  rlav1p_resnet50: RESNET,
  rlarh_resnet50: RESNET,
  rlaus_resnet50: RESNET,
  rlalstm_resnet50: RESNET,
  rlagru_resnet50: RESNET,
  rlagru_resnet50_eca: { ...RESNET, ...ECA },
  resnet50_k: RESNET,
  dsrla_mobilenetv2_eca: MOBILENET,
  rla_mobilenetv2: MOBILENET,
  mobilenetv2_eca: { numClasses: 10, widthMult: 0.5 },
};

/** RLA-ResNet features end with the k = 16 channels of pooled h (MobileNets mix h in through conv2 first). */
function pooledHiddenChannels(name: string): number {
  return name.startsWith('rla') && !name.includes('mobilenet') ? 16 : 0;
}

const reference = readReferenceFile(fixturePath('ablations', 'reference.safetensors'));

/** Outputs of `name` (deterministic weights, eval mode) with its intermediates; the caller disposes them. */
function runWithDeterministicWeights(model: ClassifierModel, input: tf.Tensor4D) {
  loadDeterministicWeights(model);
  model.eval();
  return model.forwardIntermediates(input);
}

/** Builds `name`, runs `fn` on it and disposes it. */
function withModel<T>(name: string, options: ModelOptions, fn: (model: ClassifierModel) => T): T {
  const model = createModel(name, { ...options, seed: 1 });
  try {
    return fn(model);
  } finally {
    model.dispose();
  }
}

describe('ablations and MobileNets against the official classes (deterministic weights, cpu)', () => {
  let input: tf.Tensor4D;
  /** Our logits per model, kept for the cross-model checks at the end. */
  const ourLogits = new Map<string, Float32Array>();
  before(async () => {
    await initBackend({ backend: 'cpu' });
    input = nhwcInput(reference.tensors.get('input')!);
  });

  it('covers every model of the reference file', () => {
    const inFile = [...reference.tensors.keys()]
      .filter((k) => k.endsWith('.logits'))
      .map((k) => k.slice(0, -7));
    assert.deepEqual(inFile.sort(), Object.keys(REFERENCE_OPTIONS).sort());
  });

  for (const [name, options] of Object.entries(REFERENCE_OPTIONS)) {
    it(`${name}: state_dict keys/shapes equal the official class's, logits and features match`, (t) => {
      const official: string[] = JSON.parse(reference.metadata[`${name}.state_dict`]);
      const outputs = withModel(name, options, (model) => {
        const ours = model
          .stateEntries()
          .map((e) => `${e.key}:${torchShapeOf(e.tensor.shape, e.layout).join(',')}`);
        assert.deepEqual(ours, official, `${reference.metadata[`${name}.constructor`]}`);
        return runWithDeterministicWeights(model, input);
      });
      try {
        const logits = reference.tensors.get(`${name}.logits`)!;
        const features = reference.tensors.get(`${name}.head.features`)!;
        ourLogits.set(name, outputs.logits.dataSync() as Float32Array);
        const differences = [assertClose('logits', ourLogits.get(name)!, logits.data, 1e-4, true, name)];
        // head.features = [pooled x, pooled h]: compare each part at its own scale, or x would hide h.
        const actual = outputs['head.features'].dataSync();
        const [n, width] = features.shape;
        const columns = (data: ArrayLike<number>, from: number, to: number) =>
          Float32Array.from({ length: n * (to - from) }, (_, i) => {
            const row = Math.floor(i / (to - from));
            return data[row * width + from + (i % (to - from))];
          });
        const hStart = width - pooledHiddenChannels(name);
        differences.push(
          assertClose(
            'features.x',
            columns(actual, 0, hStart),
            columns(features.data, 0, hStart),
            1e-3,
            false,
            name,
          ),
        );
        if (hStart < width) {
          differences.push(
            assertClose(
              'features.h',
              columns(actual, hStart, width),
              columns(features.data, hStart, width),
              1e-3,
              false,
              name,
            ),
          );
        }
        t.diagnostic(describeDifferences(differences));
      } finally {
        tf.dispose(Object.values(outputs));
      }
    });
  }

  it('the official aliasing makes rlav3 = rla_resnet50 and rlav4 = rlav2 exactly, here and in the official code', () => {
    const logitsOf = (name: string) => reference.tensors.get(`${name}.logits`)!.data;
    assert.equal(maxAbsDiff(logitsOf('rlav3_resnet50'), logitsOf('rla_resnet50')), 0);
    assert.equal(maxAbsDiff(logitsOf('rlav4_resnet50'), logitsOf('rlav2_resnet50')), 0);
    assert.ok(
      maxAbsDiff(logitsOf('rlav2_resnet50'), logitsOf('rla_resnet50')) > 1e-3,
      'v2 is a different model',
    );
    for (const [a, b] of [
      ['rlav3_resnet50', 'rla_resnet50'],
      ['rlav4_resnet50', 'rlav2_resnet50'],
    ]) {
      assert.ok(ourLogits.has(a) && ourLogits.has(b), 'the per-model tests ran first');
      assert.equal(maxAbsDiff(ourLogits.get(a)!, ourLogits.get(b)!), 0, `${a} = ${b}`);
    }
  });

  after(() => input.dispose());
});

describe('ablation semantics that can be checked by hand (cpu)', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  const small: ModelOptions = { layers: [1, 1, 1, 1], widthPerGroup: 8, numClasses: 10, rlaChannel: 8 };
  const x = () => tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;

  /** Copies `from`'s state into `to`, `to`'s key k taking `from`'s key rename(k); null or absent keys are left. */
  function transplant(
    from: ClassifierModel,
    to: ClassifierModel,
    rename: (key: string) => string | null,
  ): void {
    const source = from.stateDict();
    const renamed = new Map<string, tf.Tensor>();
    for (const { key } of to.stateEntries()) {
      const sourceKey = rename(key);
      const tensor = sourceKey === null ? undefined : source.get(sourceKey);
      if (tensor) renamed.set(key, tensor);
    }
    to.loadStateDict(renamed, { strict: false });
  }

  it('unshared with one block per stage = RLA-Net fed the residual branch, with the cells moved into the blocks', () => {
    const shared = createModel('rla_resnet50', { ...small, rlaInput: 'residual-branch', seed: 2 });
    const unshared = createModel('rlaus_resnet50', { ...small, seed: 3 });
    const input = x();
    try {
      transplant(shared, unshared, (key) =>
        key
          .replace(/^stages\.(\d)\.0\.conv_out\./, 'conv_outs.$1.')
          .replace(/^stages\.(\d)\.0\.recurrent_conv\./, 'recurrent_convs.$1.')
          .replace(/^stages\.(\d)\.0\.bn_rla\./, 'stage_bns.$1.0.'),
      );
      for (const model of [shared, unshared]) model.eval();
      const [a, b] = [shared, unshared].map((m) => tf.tidy(() => m.forward(input).dataSync()));
      assert.equal(maxAbsDiff(a, b), 0);
    } finally {
      tf.dispose([input]);
      shared.dispose();
      unshared.dispose();
    }
  });

  it('no exchange (rlarh): the main path is exactly a plain ResNet with the same block weights', () => {
    const rh = createModel('rlarh_resnet50', { ...small, seed: 2 });
    const plain = createModel('resnet50', {
      layers: small.layers,
      widthPerGroup: 8,
      numClasses: 10,
      seed: 3,
    });
    const input = x();
    try {
      // Everything but fc (whose input has no h channels in the plain net).
      transplant(rh, plain, (key) =>
        key.startsWith('fc.') ? null : key.replace(/^layer(\d)\./, (_, s) => `stages.${Number(s) - 1}.`),
      );
      for (const model of [rh, plain]) model.eval();
      const [a, b] = [rh, plain].map((m) =>
        tf.tidy(() => {
          const out = m.forwardIntermediates(input);
          return out['stage4.x'].dataSync();
        }),
      );
      assert.equal(maxAbsDiff(a, b), 0);
    } finally {
      tf.dispose([input]);
      rh.dispose();
      plain.dispose();
    }
  });

  it('v1 differs from RLA-Net only by tanh instead of ReLU on h at the head', () => {
    const rla = createModel('rla_resnet50', { ...small, seed: 2 });
    const v1 = createModel('rlav1_resnet50', { ...small, seed: 3 });
    const input = x();
    try {
      transplant(rla, v1, (key) => key);
      for (const model of [rla, v1]) model.eval();
      tf.tidy(() => {
        const [a, b] = [rla, v1].map((m) => m.forwardIntermediates(input));
        assert.equal(maxAbsDiff(a['stage4.h'].dataSync(), b['stage4.h'].dataSync()), 0);
        const normalised = (rla as RLAResNet).bn2!.forward(a['stage4.h']);
        assert.equal(maxAbsDiff(a['head.h'].dataSync(), tf.relu(normalised).dataSync()), 0);
        assert.equal(maxAbsDiff(b['head.h'].dataSync(), tf.tanh(normalised).dataSync()), 0);
      });
    } finally {
      tf.dispose([input]);
      rla.dispose();
      v1.dispose();
    }
  });

  it('GroupNorm(1, C) normalises each sample over all its positions and channels', async () => {
    const norm = new GroupNorm(1, 4, 1e-6);
    const input = tf.randomNormal([2, 3, 3, 4], 2, 3, 'float32', 9) as tf.Tensor4D;
    try {
      await assertNoLeak(() =>
        tf.tidy(() => {
          const values = norm.forward(input).arraySync() as number[][][][];
          const data = input.arraySync() as number[][][][];
          for (let s = 0; s < 2; s++) {
            const flat = data[s].flat(2);
            const mean = flat.reduce((a, b) => a + b, 0) / flat.length;
            const variance = flat.reduce((a, b) => a + (b - mean) ** 2, 0) / flat.length;
            const expected = flat.map((v) => (v - mean) / Math.sqrt(variance + 1e-6));
            assert.ok(maxAbsDiff(values[s].flat(2), expected) < 1e-5);
          }
        }),
      );
    } finally {
      input.dispose();
      norm.dispose();
    }
  });

  it('rejects input sizes where the floor-pooled h and the ceil-strided x disagree', () => {
    const model = createModel('rlagru_resnet50', { ...small, seed: 1 });
    try {
      assert.throws(
        () => tf.tidy(() => model.forward(tf.zeros([1, 48, 64, 3]))),
        /input height 48 is not supported/,
      );
    } finally {
      model.dispose();
    }
  });

  it('ConvGRU: thop misses the GroupNorm parameters; rla info --json reports both counts', async () => {
    const model = createModel('rlagru_resnet50', { ...small, seed: 1 });
    // Three GroupNorm(1, k) per stage, weight and bias each: 4 * 3 * 2k parameters thop does not see.
    assert.equal(countParams(model) - countThopParams(model), 4 * 3 * 2 * 8);
    model.dispose();
    const lines: string[] = [];
    await infoCommand(['rlagru_resnet50', '--json', '--backend', 'cpu'], (line) => lines.push(line));
    const info = JSON.parse(lines.join('\n'));
    assert.deepEqual([info.params, info.thopParams, info.macs], [26056104, 26055336, 5118223040]);
    lines.length = 0;
    await infoCommand(['mobilenet_v2', '--json', '--backend', 'cpu'], (line) => lines.push(line));
    assert.equal('thopParams' in JSON.parse(lines.join('\n')), false, 'only shown where it differs');
  });
});
