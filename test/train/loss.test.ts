import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { crossEntropy, topKCorrect } from '../../src/train/loss.js';

describe('cross-entropy and top-k', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('equals nn.CrossEntropyLoss() (mean of -log softmax at the label)', () => {
    const logits = [
      [1, 2, 3],
      [0.5, -1, 0],
    ];
    const labels = [2, 0];
    const expected =
      labels.reduce((sum, label, n) => {
        const row = logits[n];
        const logSumExp = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
        return sum + logSumExp - row[label];
      }, 0) / 2;
    const loss = tf.tidy(() => crossEntropy(tf.tensor2d(logits), tf.tensor1d(labels, 'int32')).dataSync()[0]);
    assert.ok(Math.abs(loss - expected) < 1e-6, `${loss} vs ${expected}`);
  });

  it('counts top-1 and top-5 hits', () => {
    const logits = Float32Array.from([0.1, 0.9, 0.3, 0.2, 0.5, 0.4, 0.0, 0.6, 0.7, 0.8, 0.05, 0.01]);
    // row 0 (6 classes): label 1 is the max; row 1: label 0 (0.0) ranks 6th of 6.
    assert.equal(topKCorrect(logits, Int32Array.from([1, 0]), 6, 1), 1);
    assert.equal(topKCorrect(logits, Int32Array.from([4, 0]), 6, 5), 1);
    assert.equal(topKCorrect(logits, Int32Array.from([4, 3]), 6, 5), 2);
    assert.equal(topKCorrect(Float32Array.from([Number.NaN, 1]), Int32Array.from([0]), 2, 1), 0);
  });

  it('scores constant logits like torch.topk: top-1 10% and top-5 50% over 10 uniformly spread labels', () => {
    const samples = 100;
    const logits = new Float32Array(samples * 10).fill(0.25);
    const labels = Int32Array.from({ length: samples }, (_, n) => n % 10);
    assert.equal(topKCorrect(logits, labels, 10, 1), 10);
    assert.equal(topKCorrect(logits, labels, 10, 5), 50);
    assert.equal(topKCorrect(logits, labels, 10, 10), 100);
  });

  it('breaks ties as torch.topk does: equal logits at lower indices rank first', () => {
    const logits = Float32Array.from([1, 3, 3, 0]);
    const one = (label: number, k: number) => topKCorrect(logits, Int32Array.from([label]), 4, k);
    assert.equal(one(1, 1), 1, 'class 1 is the first of the tied maxima');
    assert.equal(one(2, 1), 0, 'class 2 ties class 1 but comes after it');
    assert.equal(one(2, 2), 1);
    assert.equal(one(0, 2), 0);
    assert.equal(one(0, 3), 1);
    const infinite = Float32Array.from([Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 0]);
    assert.equal(topKCorrect(infinite, Int32Array.from([1]), 3, 1), 0, '+Inf ties are ties too');
    assert.equal(topKCorrect(infinite, Int32Array.from([0]), 3, 1), 1);
  });

  it('never counts a NaN label logit as correct; another class at NaN ranks above the label', () => {
    const nanLabel = Float32Array.from([Number.NaN, Number.NaN, Number.NaN]);
    assert.equal(topKCorrect(nanLabel, Int32Array.from([0]), 3, 3), 0);
    const nanOther = Float32Array.from([Number.NaN, 1, 2]);
    assert.equal(topKCorrect(nanOther, Int32Array.from([2]), 3, 1), 0);
    assert.equal(topKCorrect(nanOther, Int32Array.from([2]), 3, 2), 1);
    assert.equal(topKCorrect(nanOther, Int32Array.from([1]), 3, 2), 0);
  });
});
