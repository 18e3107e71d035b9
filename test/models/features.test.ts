import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { nhwcInput, officialBytes, RESNET_FIXTURES, readFixtureTensors } from '../helpers/fixtures.js';

const TINY = { layers: [1, 1, 1, 1], widthPerGroup: 8, numClasses: 5, seed: 4 };

describe('backbone feature API and input checks', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('forwardStages returns x and h for each of the four stages, and forwardFeatures + forwardHead == forward', () => {
    const model = createModel('rla_resnet50', TINY).eval();
    const x = tf.randomNormal([2, 64, 64, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const result = model.forwardStages(x);
    assert.deepEqual(
      result.map((s) => [s.x.shape, s.h?.shape]),
      [
        [
          [2, 16, 16, 256],
          [2, 16, 16, 32],
        ],
        [
          [2, 8, 8, 512],
          [2, 8, 8, 32],
        ],
        [
          [2, 4, 4, 1024],
          [2, 4, 4, 32],
        ],
        [
          [2, 2, 2, 2048],
          [2, 2, 2, 32],
        ],
      ],
    );
    assert.equal(tf.memory().numTensors, before + 8, 'exactly the 8 returned tensors are kept');
    tf.dispose(result.flatMap((s) => [s.x, s.h!]));
    const features = model.forwardFeatures(x);
    const viaHead = model.forwardHead(features);
    const direct = model.forward(x);
    assert.deepEqual(Array.from(viaHead.dataSync()), Array.from(direct.dataSync()));
    tf.dispose([x, features.x, features.h!, viaHead, direct]);
    model.dispose();
  });

  it('rejects input sizes the official RLA-ResNet cannot process, naming sizes that work', () => {
    const model = createModel('rla_resnet50', TINY);
    const x = tf.zeros([1, 48, 64, 3]) as tf.Tensor4D;
    assert.throws(() => model.forward(x), /input height 48 is not supported.*nearest working sizes: 32, 61/s);
    const nchw = tf.zeros([1, 3, 64, 64]) as tf.Tensor4D;
    assert.throws(
      () => model.forward(nchw),
      /expected an NHWC image batch \[N, H, W, 3\], got shape \[1,3,64,64\]/,
    );
    tf.dispose([x, nchw]);
    model.dispose();
  });

  it("rlaInput 'residual-branch' (the paper's Figure 3) differs from the official block-output default", () => {
    const { fixture, model: name, options } = RESNET_FIXTURES[0];
    const official = createModel(name, options).eval();
    const paper = createModel(name, { ...options, rlaInput: 'residual-branch' }).eval();
    loadCheckpoint(official, officialBytes(`${fixture}.pth`));
    loadCheckpoint(paper, officialBytes(`${fixture}.pth`));
    const x = nhwcInput(readFixtureTensors(`${fixture}.eval.safetensors`).get('input')!);
    const a = official.forward(x).dataSync();
    const b = paper.forward(x).dataSync();
    const difference = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
    assert.ok(difference > 1e-3, `the two RLA inputs must give different logits (diff ${difference})`);
    official.dispose();
    paper.dispose();
    x.dispose();
  });
});
