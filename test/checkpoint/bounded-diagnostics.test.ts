import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadStateDictSource } from '../../src/checkpoint/load-checkpoint.js';
import type { SourceTensor } from '../../src/checkpoint/source-tensor.js';
import { readStateDict, type StateDictSource } from '../../src/checkpoint/state-dict-source.js';
import { initBackend } from '../../src/engine/backend.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createModel } from '../../src/models/index.js';
import { torchShapeOf } from '../../src/nn/tensor-layout.js';
import { CheckpointError } from '../../src/weights/errors.js';
import { writeZip } from '../../src/weights/index.js';
import { PickleBuilder } from '../weights/_helpers.js';

/** A file tensor that is never read: the strict-load check must fail on keys and shapes alone. */
const unread = (shape: number[]): SourceTensor => ({
  shape,
  dtype: 'float32',
  toFloat32: () => assert.fail('a tensor was read although the load must fail first'),
  storageIdentity: null,
});

function sourceOf(tensors: Map<string, SourceTensor>): StateDictSource {
  return { format: 'safetensors', tensors, unwrappedFrom: null, info: {} };
}

/** Loads strictly, expecting the key report; returns its message and the time taken. */
function strictFailure(model: ClassifierModel, source: StateDictSource): { message: string; ms: number } {
  const started = performance.now();
  let message = '';
  assert.throws(
    () => loadStateDictSource(model, source, { fileName: 'hostile.pth' }),
    (error: unknown) => {
      assert.ok(error instanceof CheckpointError);
      message = error.message;
      return true;
    },
  );
  return { message, ms: performance.now() - started };
}

describe('strict-load reports stay bounded whatever the file holds', () => {
  let model: ClassifierModel;
  let modelKeys: Map<string, SourceTensor>;
  before(async () => {
    await initBackend({ backend: 'cpu' });
    model = createModel('rla_resnet50', { layers: [1, 1, 1, 1], widthPerGroup: 16, numClasses: 10 });
    modelKeys = new Map(
      model.stateEntries().map((e) => [e.key, unread(torchShapeOf(e.tensor.shape, e.layout))] as const),
    );
  });
  after(() => model.dispose());

  it('300,000 unexpected keys: suggestions for the first few only, 60 lines, well under 2 s', () => {
    const tensors = new Map(modelKeys);
    for (let i = 0; i < 300_000; i++) tensors.set(`extra.block${i}.conv.weight`, unread([1]));
    const { message, ms } = strictFailure(model, sourceOf(tensors));
    assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
    assert.match(message, /^hostile\.pth: weights do not fit the model \(300000 problem\(s\)/);
    assert.match(message, /unexpected in file: extra\.block0\.conv\.weight \(nearest model key: /);
    assert.match(message, /\.\.\. and 299940 more$/);
    assert.equal(message.split('\n').length, 62);
    assert.equal((message.match(/nearest model key/g) ?? []).length, 20);
  });

  it('a 2M-character key is cut to 120 characters with its length, and not compared', () => {
    const tensors = new Map(modelKeys);
    const huge = `stages.0.0.conv1.weight${'x'.repeat(2_000_000)}`;
    tensors.set(huge, unread([1]));
    const { message, ms } = strictFailure(model, sourceOf(tensors));
    assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
    assert.ok(message.length < 1000, `message of ${message.length} chars`);
    assert.ok(message.includes(`unexpected in file: ${huge.slice(0, 120)}… (2000023 chars)`), message);
  });

  it('a forged shape of a million dimensions is shown by its first ones', () => {
    const tensors = new Map(modelKeys);
    tensors.set('fc.bias', unread(new Array(1_000_000).fill(1)));
    const { message } = strictFailure(model, sourceOf(tensors));
    assert.match(
      message,
      /shape mismatch fc\.bias: model expects \[10\], file has \[1,1,1,1,1,1,1,1,\.\.\. \(1000000 dims\)\]/,
    );
    assert.ok(message.length < 1000, `message of ${message.length} chars`);
  });

  it('a non-string state_dict key shared 2^60 times is summarised', () => {
    const pickle = new PickleBuilder().proto(2).op(0x7d, 0x4e); // {} then the key's seed None
    for (let i = 0; i < 60; i++) pickle.op(0x32, 0x86); // DUP TUPLE2: each level doubles the leaves
    pickle.op(0x4e, 0x73); // value None, SETITEM
    const file = writeZip([{ name: 'keys/data.pkl', data: pickle.stop() }]);
    const started = performance.now();
    assert.throws(
      () => readStateDict(file, { fileName: 'keys.pth' }),
      /^CheckpointError: keys\.pth: state_dict has a non-string key: tuple of 2 items \(tuple of 2 items \(/,
    );
    assert.ok(performance.now() - started < 2000);
  });
});
