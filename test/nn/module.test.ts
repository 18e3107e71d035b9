import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { Rng } from '../../src/nn/init.js';
import { Linear } from '../../src/nn/linear.js';
import { Module, Parameter } from '../../src/nn/module.js';
import { torchShapeOf } from '../../src/nn/tensor-layout.js';
import { fixturePath } from '../helpers/paths.js';
import { assertNoLeak } from '../helpers/tensors.js';

interface KeyListing {
  model: string;
  trainable_params: number;
  keys: Array<{ key: string; shape: number[]; dtype: string }>;
}

function officialKeys(name: string): KeyListing {
  return JSON.parse(readFileSync(fixturePath('rla-official', 'state_dict_keys', `${name}.json`), 'utf8'));
}

describe('module tree and state_dict', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  for (const name of ['rla_resnet50', 'rla_resnet50_eca', 'rla_resnet101']) {
    it(`${name} has exactly the official state_dict keys, order, shapes and dtypes`, () => {
      const listing = officialKeys(name);
      const model = createModel(name, { seed: 0 });
      const ours = model.stateEntries().map((entry) => ({
        key: entry.key,
        shape: torchShapeOf(entry.tensor.shape, entry.layout),
        dtype: entry.tensor.dtype === 'int32' ? 'int64' : entry.tensor.dtype,
      }));
      assert.deepEqual(ours, listing.keys);
      model.dispose();
    });
  }

  it('loadStateDict reports every shape mismatch, missing and unexpected key at once', () => {
    const model = createModel('rla_resnet50', {
      layers: [1, 1, 1, 1],
      widthPerGroup: 8,
      numClasses: 4,
      seed: 1,
    });
    const state = new Map(model.stateDict());
    const wrong = tf.zeros([3]);
    state.set('bn1.weight', wrong);
    state.delete('fc.bias');
    const extra = tf.zeros([1]);
    state.set('fc.extra', extra);
    assert.throws(
      () => model.loadStateDict(state),
      (error: Error) =>
        /bn1\.weight: expected shape \[64\], got \[3\]/.test(error.message) &&
        /fc\.bias: missing/.test(error.message) &&
        /fc\.extra: unexpected/.test(error.message),
    );
    state.set('bn1.weight', model.stateDict().get('bn1.weight')!);
    const report = model.loadStateDict(state, { strict: false });
    assert.deepEqual(report, { missing: ['fc.bias'], unexpected: ['fc.extra'] });
    tf.dispose([wrong, extra]);
    model.dispose();
  });

  it('loadStateDict copies values (no aliasing) and leaks nothing', async () => {
    const a = createModel('rla_resnet50', { layers: [1, 1, 1, 1], widthPerGroup: 8, numClasses: 4, seed: 1 });
    const b = createModel('rla_resnet50', { layers: [1, 1, 1, 1], widthPerGroup: 8, numClasses: 4, seed: 2 });
    await assertNoLeak(() => b.loadStateDict(a.stateDict()), 'loadStateDict');
    const key = 'stages.0.0.conv1.weight';
    assert.deepEqual(b.stateDict().get(key)!.dataSync(), a.stateDict().get(key)!.dataSync());
    a.dispose();
    assert.ok(!b.stateDict().get(key)!.isDisposed, 'b must own its tensors');
    b.dispose();
  });

  it('a parameter registered under two names is one parameter, listed under both keys', () => {
    class Tied extends Module {
      constructor() {
        super();
        const shared = new Parameter(tf.ones([2, 2]));
        this.addParameter('first', shared);
        this.addParameter('second', shared);
        this.addModule('head', new Linear(2, 2, new Rng(0)));
      }
    }
    const tied = new Tied();
    assert.deepEqual(
      tied.namedParameters().map(([key]) => key),
      ['first', 'second', 'head.weight', 'head.bias'],
    );
    assert.equal(tied.parameters().length, 3);
    tied.dispose();
  });

  it('train() and eval() switch the whole tree; dispose() frees every variable', () => {
    const before = tf.memory().numTensors;
    const model = createModel('resnet50', { layers: [1, 1, 1, 1], widthPerGroup: 8, seed: 3 });
    assert.ok(model.namedModules().every(([, m]) => m.training));
    model.eval();
    assert.ok(model.namedModules().every(([, m]) => !m.training));
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
