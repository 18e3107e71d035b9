/**
 * The tracer that records a model's own TF.js forward pass as an ONNX graph: the ops between layers (split,
 * slice, concat, reshape, scalar arithmetic, a zero state) translated from NHWC to NCHW axes, a BatchNorm folded
 * into the conv before it even where that conv's raw output is used again, graphs for any batch and size, and
 * clear refusals.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { type BackboneFeatures, ClassifierModel } from '../../src/models/classifier.js';
import { BatchNorm2d } from '../../src/nn/batchnorm.js';
import { Conv2d } from '../../src/nn/conv.js';
import { Rng } from '../../src/nn/init.js';
import { Linear } from '../../src/nn/linear.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { opHistogram, readOnnxModel } from './helpers/onnx-reader.js';
import {
  calibrateBatchNorm,
  expectClose,
  logitsTolerance,
  runExported,
  runTfjs,
  testImages,
} from './helpers/ort.js';

/** A model whose forward uses every op the tracer translates between layers. */
class OpsModel extends ClassifierModel {
  readonly numClasses = 4;
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  readonly fc: Linear;
  constructor() {
    super();
    const rng = new Rng(3);
    this.conv = this.addModule('conv', new Conv2d(3, 8, 3, rng, { padding: 1, stride: 2 }));
    this.bn = this.addModule('bn', new BatchNorm2d(8));
    this.fc = this.addModule('fc', new Linear(6, 4, rng));
  }
  checkInputSize(height: number, width: number): void {
    if (height < 2 || width < 2) throw new Error('too small');
  }
  protected runBackbone(x: tf.Tensor4D): BackboneFeatures {
    const raw = this.conv.forward(x);
    // BN folds into the conv; the raw conv output is used again, so the graph writes it unfolded as well.
    const y = tf.add<tf.Tensor4D>(this.bn.forward(raw), tf.mul(raw, 0.5));
    const [a, b] = tf.split(y, [4, 4], 3);
    const gated = tf.mul<tf.Tensor4D>(a, tf.sigmoid(b));
    const [n, height, width] = gated.shape;
    const state = tf.zeros([n, height, width, 2]) as tf.Tensor4D;
    const joined = tf.concat([gated, tf.sub(1, state)], 3);
    const sliced = tf.slice(joined, [0, 0, 0, 0], [-1, -1, -1, 6]);
    return { x: tf.relu(tf.sub(1, tf.tanh(sliced))) as tf.Tensor4D, h: null };
  }
  protected runHead(features: BackboneFeatures): tf.Tensor2D {
    const pooled = tf.mean(features.x, [1, 2], true);
    return this.fc.forward(tf.reshape(pooled, [pooled.shape[0], 6]));
  }
}

describe('tracing a forward pass into a graph', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('computes what TF.js computes, for other batch and image sizes than the traced ones', async () => {
    const model = new OpsModel();
    try {
      calibrateBatchNorm(model, testImages([4, 3, 12, 12], 1), [4, 3, 12, 12]);
      for (const shape of [
        [3, 3, 10, 14],
        [1, 3, 7, 7],
      ]) {
        const images = testImages(shape as [number, number, number, number], 5);
        const expected = runTfjs(model, images, shape);
        for (const foldBatchNorm of [true, false]) {
          const got = await runExported(model, images, shape, { dynamicBatch: true, foldBatchNorm });
          expectClose(got.logits.data, expected.logits, logitsTolerance(expected.logits), `logits ${shape}`);
        }
      }
      const ops = opHistogram(readOnnxModel(exportOnnx(model)));
      assert.equal(ops.BatchNormalization, undefined, 'BN folded');
      assert.equal(ops.Conv, 2, 'the raw conv output is written once more, unfolded');
      assert.equal(ops.Split, 1);
      assert.equal(ops.ConstantOfShape, 1, 'the zero state takes its shape from the graph at run time');
    } finally {
      model.dispose();
    }
  });

  it('leaves TF.js as it found it: backend, no tensors', () => {
    const model = new OpsModel();
    try {
      const backend = tf.getBackend();
      const before = tf.memory().numTensors;
      exportOnnx(model);
      assert.equal(tf.getBackend(), backend);
      assert.equal(tf.memory().numTensors, before);
    } finally {
      model.dispose();
    }
  });

  it('refuses what it cannot write, naming it', () => {
    class ReadsValues extends OpsModel {
      protected override runHead(features: BackboneFeatures): tf.Tensor2D {
        features.x.dataSync();
        return super.runHead(features);
      }
    }
    class SpatialReshape extends OpsModel {
      protected override runHead(features: BackboneFeatures): tf.Tensor2D {
        const [n, h, w] = features.x.shape;
        return tf.reshape(tf.slice(features.x, [0, 0, 0, 0], [-1, -1, -1, 1]), [n, h * w]) as tf.Tensor2D;
      }
    }
    class UsesWeightDirectly extends OpsModel {
      protected override runHead(features: BackboneFeatures): tf.Tensor2D {
        return tf.add(super.runHead(features), this.fc.bias?.value as tf.Tensor) as tf.Tensor2D;
      }
    }
    class UnknownOp extends OpsModel {
      protected override runHead(features: BackboneFeatures): tf.Tensor2D {
        return tf.exp(super.runHead(features)) as tf.Tensor2D;
      }
    }
    const models = [new ReadsValues(), new SpatialReshape(), new UsesWeightDirectly(), new UnknownOp()];
    try {
      assert.throws(() => exportOnnx(models[0]), /read the values of a symbolic tensor/);
      assert.throws(() => exportOnnx(models[1]), /fixes the image size; export with a fixed inputSize/);
      assert.doesNotThrow(() => exportOnnx(models[1], { inputSize: 8 }));
      assert.throws(
        () => exportOnnx(models[2]),
        /a real tensor of shape \[4\] reached a TF.js op between layers/,
      );
      assert.throws(() => exportOnnx(models[3]), /Exp/);
      assert.equal(tf.getBackend(), 'cpu', 'a failed trace restores the backend');
    } finally {
      for (const model of models) model.dispose();
    }
  });
});
