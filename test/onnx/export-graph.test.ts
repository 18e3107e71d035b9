/** The structure of exported graphs: names, shapes, opsets, folded BatchNorms, shared weights, errors. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { ClassifierModel } from '../../src/models/classifier.js';
import { createModel } from '../../src/models/index.js';
import { BatchNorm2d } from '../../src/nn/batchnorm.js';
import { Module } from '../../src/nn/module.js';
import { activeTracer } from '../../src/nn/trace-hook.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { assertNoLeak } from '../helpers/tensors.js';
import { opHistogram, readOnnxModel } from './helpers/onnx-reader.js';

const SMALL_RLA = { layers: [1, 1, 1, 1], widthPerGroup: 8, numClasses: 10, seed: 3 };

/** Ops a CPU runtime without custom kernels needs for every rla-net model. */
const STANDARD_OPS = new Set([
  'Conv',
  'BatchNormalization',
  'Relu',
  'Clip',
  'Tanh',
  'Sigmoid',
  'Add',
  'Sub',
  'Mul',
  'Concat',
  'Split',
  'Slice',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Flatten',
  'Reshape',
  'Gemm',
  'Shape',
  'ConstantOfShape',
  'InstanceNormalization',
  'Identity',
]);

describe('exported ONNX graphs', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('names input "input" (NCHW) and output "logits", with a fixed or symbolic batch and image size', () => {
    const model = createModel('rla_resnet50', SMALL_RLA);
    try {
      const byDefault = readOnnxModel(exportOnnx(model));
      assert.deepEqual(byDefault.inputs, [{ name: 'input', elemType: 1, shape: [1, 3, 'height', 'width'] }]);
      assert.deepEqual(byDefault.outputs, [{ name: 'logits', elemType: 1, shape: [1, 10] }]);
      assert.deepEqual(byDefault.opsets, [{ domain: '', version: 17 }]);
      assert.equal(byDefault.irVersion, 8);
      assert.equal(byDefault.metadata.get('rla.model'), 'rla_resnet50');
      assert.deepEqual(JSON.parse(byDefault.metadata.get('rla.options') ?? ''), SMALL_RLA);
      const dynamic = readOnnxModel(exportOnnx(model, { dynamicBatch: true, inputSize: 224, opset: 13 }));
      assert.deepEqual(dynamic.inputs[0].shape, ['batch', 3, 224, 224]);
      assert.deepEqual(dynamic.outputs[0].shape, ['batch', 10]);
      assert.deepEqual([dynamic.opsets[0].version, dynamic.irVersion], [13, 7]);
      assert.deepEqual(readOnnxModel(exportOnnx(model, { batchSize: 16 })).inputs[0].shape, [
        16,
        3,
        'height',
        'width',
      ]);
      assert.throws(() => exportOnnx(model, { inputSize: 100 }), /not supported by the official RLA-ResNet/);
      assert.throws(() => exportOnnx(model, { opset: 12 }), /opset must be an integer from 13 to 23/);
    } finally {
      model.dispose();
    }
  });

  it('is NCHW throughout (no Transpose) and uses only standard ONNX ops', () => {
    for (const [name, options] of [
      ['rla_resnet50_eca', SMALL_RLA],
      ['rlagru_resnet50', SMALL_RLA],
      ['rlalstm_resnet50', SMALL_RLA],
      ['resnext50_32x4d_se', { ...SMALL_RLA, widthPerGroup: 2 }],
      ['dsrla_mobilenetv2_k32', { widthMult: 0.25, numClasses: 10 }],
      ['rla_resnet110_cifar', {}],
      ['densenet_bc100_sharedlag_cifar', {}],
      ['rla_xception_cifar', {}],
    ] as const) {
      const model = createModel(name, options);
      try {
        const ops = Object.keys(opHistogram(readOnnxModel(exportOnnx(model))));
        assert.deepEqual(
          ops.filter((op) => !STANDARD_OPS.has(op)),
          [],
          `${name} uses only standard ops`,
        );
      } finally {
        model.dispose();
      }
    }
  });

  it('folds every BatchNorm that follows a conv and keeps the others (BN on h + u, bn2) as BatchNormalization', () => {
    const model = createModel('rla_resnet50', SMALL_RLA);
    try {
      const allNorms = model.namedModules().filter(([, m]) => m instanceof BatchNorm2d).length;
      const folded = readOnnxModel(exportOnnx(model));
      // 4 blocks: one stage BN each, on h + u, cannot follow a conv; the head's bn2 folds into the last
      // recurrent conv call (h is that conv's output).
      assert.equal(opHistogram(folded).BatchNormalization, 4);
      const conv1 = folded.nodes.find((n) => n.opType === 'Conv' && n.inputs[1] === 'conv1.weight');
      assert.ok(conv1, 'conv1 keeps its official weight name');
      assert.deepEqual(conv1.inputs, ['input', 'conv1.weight', 'conv1.bias']);
      assert.deepEqual(conv1.attributes.get('pads')?.ints, [3n, 3n, 3n, 3n], 'explicit symmetric pads');
      assert.deepEqual(conv1.attributes.get('strides')?.ints, [2n, 2n]);
      assert.deepEqual(
        folded.initializers.find((t) => t.name === 'conv1.weight')?.dims,
        [64, 3, 7, 7],
        'OIHW',
      );
      assert.deepEqual(folded.initializers.find((t) => t.name === 'fc.weight')?.dims, [10, 2048 + 32]);
      const kept = readOnnxModel(exportOnnx(model, { foldBatchNorm: false }));
      assert.equal(opHistogram(kept).BatchNormalization, allNorms);
      assert.equal(kept.metadata.get('rla.batchnorm'), 'kept');
    } finally {
      model.dispose();
    }
  });

  it('stores a tied parameter once: the one depthwise recurrent conv of dsRLA-MobileNetV2 serves all 17 blocks', () => {
    const model = createModel('dsrla_mobilenetv2', { widthMult: 0.25, numClasses: 10 });
    try {
      const graph = readOnnxModel(exportOnnx(model, { foldBatchNorm: false }));
      const recurrent = graph.initializers.filter((t) => t.name.startsWith('recurrent_dsconvs'));
      assert.deepEqual(
        recurrent.map((t) => [t.name, t.dims]),
        [['recurrent_dsconvs.0.weight', [32, 1, 3, 3]]],
      );
      const uses = graph.nodes.filter((n) => n.inputs.includes('recurrent_dsconvs.0.weight'));
      assert.equal(uses.length, 17);
      // Folding BN adds one folded copy: the head's bn2 folds into the 17th call (h is its output).
      const foldedGraph = readOnnxModel(exportOnnx(model));
      assert.deepEqual(
        foldedGraph.initializers.filter((t) => t.name.startsWith('recurrent_dsconvs')).map((t) => t.name),
        ['recurrent_dsconvs.0.weight', 'recurrent_dsconvs.0.weight_1', 'recurrent_dsconvs.0.bias'],
      );
      assert.equal(
        foldedGraph.nodes.filter((n) => n.inputs.includes('recurrent_dsconvs.0.weight')).length,
        16,
      );
      assert.ok(
        uses.every((n) => n.attributes.get('group')?.i === 32n),
        'depthwise',
      );
    } finally {
      model.dispose();
    }
  });

  it('outputs the intermediates forwardIntermediates names, after logits, all or by name', () => {
    const model = createModel('rla_resnet50', { ...SMALL_RLA, layers: [2, 1, 1, 1] });
    try {
      const x = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
      const reference = model.forwardIntermediates(x);
      const names = Object.keys(reference).filter((name) => name !== 'logits');
      tf.dispose([x, ...Object.values(reference)]);
      const all = readOnnxModel(exportOnnx(model, { intermediates: true }));
      assert.deepEqual(
        all.outputs.map((o) => o.name),
        ['logits', ...names],
      );
      const some = readOnnxModel(exportOnnx(model, { intermediates: ['stage1.block1.h', 'head.features'] }));
      assert.deepEqual(
        some.outputs.map((o) => o.name),
        ['logits', 'stage1.block1.h', 'head.features'],
      );
      assert.throws(
        () => exportOnnx(model, { intermediates: ['stage9.x'] }),
        /unknown intermediate\(s\) stage9.x; this model has stem.x/,
      );
    } finally {
      model.dispose();
    }
  });

  it('reads weights without leaking tensors or changing the model', async () => {
    const model = createModel('rlagru_resnet50', SMALL_RLA);
    try {
      const before = model.stateEntries().map((e) => Array.from(e.tensor.dataSync()));
      await assertNoLeak(() => exportOnnx(model), 'exportOnnx');
      const after = model.stateEntries().map((e) => Array.from(e.tensor.dataSync()));
      assert.deepEqual(after, before);
    } finally {
      model.dispose();
    }
  });

  it('traces any model class from its forward pass, and names a layer it cannot write', () => {
    class Custom extends ClassifierModel {
      readonly numClasses = 3;
      checkInputSize(): void {}
      protected runBackbone(x: tf.Tensor4D) {
        // Ops between layers are recorded as they run: mean over H, W and a scaled tanh.
        return { x: tf.mul(tf.tanh(tf.mean(x, [1, 2], true)), 2) as tf.Tensor4D, h: null };
      }
      protected runHead(features: { x: tf.Tensor4D }): tf.Tensor2D {
        return tf.reshape(features.x, [features.x.shape[0], 3]);
      }
    }
    const ops = Object.keys(opHistogram(readOnnxModel(exportOnnx(new Custom()))));
    // No Identity: the output takes the name of the value it is, rather than a copy of it.
    assert.deepEqual(ops.sort(), ['GlobalAveragePool', 'Mul', 'Reshape', 'Tanh']);
    class Unwritable extends Module {
      forward(x: tf.Tensor4D): tf.Tensor4D {
        const tracer = activeTracer();
        return tracer ? (tracer.call(this, [x]) as tf.Tensor4D) : x;
      }
    }
    class WithUnwritable extends Custom {
      readonly layer = new Unwritable();
      protected override runBackbone(x: tf.Tensor4D) {
        return super.runBackbone(this.layer.forward(x));
      }
    }
    assert.throws(() => exportOnnx(new WithUnwritable()), /no graph writer for layer Unwritable/);
  });
});
