/**
 * Int8 post-training quantization: the arithmetic (weights, activations, observers), the QDQ graph it writes,
 * calibration determinism, ONNX Runtime running the result close to float32, and the CLI end to end with clear
 * errors for calibration sets it cannot use.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { identityOf, toSafetensorsBytes } from '../../src/checkpoint/save-checkpoint.js';
import { main } from '../../src/cli/main.js';
import { initBackend } from '../../src/engine/backend.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createModel } from '../../src/models/index.js';
import { buildOnnxModel } from '../../src/onnx/export.js';
import { DataType, encodeModel, type GraphProto } from '../../src/onnx/onnx-proto.js';
import { readOnnxMetadata } from '../../src/onnx/read-metadata.js';
import { createInferenceSession } from '../../src/onnx/session.js';
import {
  averagePoolsAsDepthwiseConvs,
  batchNormsAsDepthwiseConvs,
} from '../../src/quantize/as-depthwise-conv.js';
import { type CalibrationBatch, calibrate } from '../../src/quantize/calibrate.js';
import { createObserver } from '../../src/quantize/observers.js';
import {
  activationQuantization,
  nativeWeightBits,
  quantizeGraph,
  quantizeWeights,
} from '../../src/quantize/qdq.js';
import { quantizeModel } from '../../src/quantize/quantize-model.js';
import { splitConcatLayers } from '../../src/quantize/split-concat.js';
import { patternRgb, pngBytes, tempDir } from '../data/_files.js';
import { calibrateBatchNorm, expectClose, logitsTolerance, testImages } from '../onnx/helpers/ort.js';

const SMALL = { layers: [1, 1, 1, 1], widthPerGroup: 4, rlaChannel: 8, numClasses: 10, seed: 3 };
const SIZE = 32;

function batches(count: number, seed = 1): CalibrationBatch[] {
  return Array.from({ length: count }, (_, i) => ({
    data: testImages([4, 3, SIZE, SIZE], seed + i),
    shape: [4, 3, SIZE, SIZE],
  }));
}

function smallModel() {
  const model = createModel('rla_resnet50', SMALL);
  calibrateBatchNorm(model, testImages([8, 3, SIZE, SIZE], 9), [8, 3, SIZE, SIZE]);
  model.eval();
  return model;
}

/** The float export of `model` with `options`, its encoder, and its values' channel counts from one batch. */
async function probedExport(model: ClassifierModel, options: Parameters<typeof buildOnnxModel>[1]) {
  const proto = buildOnnxModel(model, options);
  const encode = (graph: GraphProto) => encodeModel({ ...proto, graph });
  const { shapes } = await calibrate(encode, proto.graph, batches(1), { observer: 'minmax', threads: 1 });
  return { proto, encode, channelsOf: (value: string) => shapes.get(value)?.[1] };
}

const countOps = (graph: GraphProto, op: string) => graph.nodes.filter((n) => n.opType === op).length;

/** The float logits of `rewritten` equal `original`'s (to float rounding) on three test images. */
async function assertSameLogits(
  encode: (graph: GraphProto) => Uint8Array,
  original: GraphProto,
  rewritten: GraphProto,
  what: string,
): Promise<void> {
  const images = testImages([3, 3, SIZE, SIZE], 11);
  const [a, b] = await Promise.all(
    [original, rewritten].map(async (graph) => {
      const session = await createInferenceSession(encode(graph), { threads: 1 });
      try {
        return (await session.runNchw(images, [3, 3, SIZE, SIZE])).logits.data;
      } finally {
        await session.release();
      }
    }),
  );
  expectClose(b, a, logitsTolerance(a), what);
}

describe('int8 quantization', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('quantizes weights per output channel, symmetric, within half a step', () => {
    const weights = Float32Array.from([0.5, -1, 0.25, 0, 0, 0, 3, 2.9]);
    const { values, scales } = quantizeWeights(weights, 4);
    assert.deepEqual(
      Array.from(scales),
      [1 / 127, Math.fround(0.25 / 127), 1, Math.fround(3 / 127)].map(Math.fround),
    );
    assert.deepEqual(Array.from(values.slice(0, 2)), [64, -127]);
    assert.deepEqual(Array.from(values.slice(4, 6)), [0, 0], 'an all-zero channel stays zero');
    for (let i = 0; i < weights.length; i++) {
      const scale = scales[Math.floor(i / 2)];
      assert.ok(Math.abs(values[i] * scale - weights[i]) <= scale / 2 + 1e-7, `weight ${i}`);
    }
  });

  it('uses 7-bit weights where x86 kernels would saturate 16-bit sums (no VNNI), 8 bits elsewhere', () => {
    const weights = Float32Array.from([1, -0.5, 0.25, 2]);
    const { values, scales } = quantizeWeights(weights, 1, 7);
    assert.deepEqual(Array.from(values), [32, -16, 8, 63]);
    assert.equal(scales[0], Math.fround(2 / 63));
    assert.equal(nativeWeightBits('fpu sse2 avx avx2 fma'), 7);
    assert.equal(nativeWeightBits('sse2 avx2 avx512f avx512_vnni'), 8);
    assert.equal(nativeWeightBits('fp asimd asimddp'), 8, 'ARM: no 16-bit saturation');
    assert.equal(nativeWeightBits(null), 8);
  });

  it('quantizes activations to uint8 with 0 exact, within half a step inside the range', () => {
    const { scale, zeroPoint } = activationQuantization({ min: -1, max: 3 });
    assert.equal(scale, 4 / 255);
    assert.equal(zeroPoint, 64);
    for (let v = -1; v <= 3; v += 0.0137) {
      const q = Math.min(255, Math.max(0, Math.round(v / scale) + zeroPoint));
      assert.ok(Math.abs((q - zeroPoint) * scale - v) <= scale / 2 + 1e-9, `value ${v}`);
    }
    assert.deepEqual(activationQuantization({ min: 0.5, max: 2 }), { scale: 2 / 255, zeroPoint: 0 });
    assert.deepEqual(activationQuantization({ min: 0, max: 0 }), { scale: 1, zeroPoint: 0 });
    assert.throws(
      () => activationQuantization({ min: 0, max: Number.POSITIVE_INFINITY }),
      /range \[0, Infinity\]/,
    );
  });

  it('observers: min-max keeps outliers, percentile and entropy clip them', () => {
    const values = Float32Array.from({ length: 100_000 }, (_, i) => Math.sin(i * 0.7));
    values[17] = 50;
    const ranges = (['minmax', 'percentile', 'entropy'] as const).map((kind) => {
      const observer = createObserver(kind);
      observer.observe(values.subarray(0, 50_000));
      observer.observe(values.subarray(50_000));
      return observer.range();
    });
    assert.equal(ranges[0].max, 50);
    // Percentile: the 99.99% quantile of |x|; entropy: no narrower than 128 of its 2048 bins (TensorRT's rule).
    const [, percentile, entropy] = ranges;
    assert.ok(
      percentile.max < 1.1 && percentile.max >= 0.9,
      `percentile clips to the bulk: ${percentile.max}`,
    );
    assert.ok(percentile.min <= -0.9 && percentile.min > -1.1, `symmetric: ${percentile.min}`);
    assert.ok(
      entropy.max <= (50 * 128) / 2048 && entropy.max >= 0.9,
      `entropy clips the outlier: ${entropy.max}`,
    );
    assert.throws(() => createObserver('minmax').range(), /saw no values/);
  });

  it('writes QDQ: int8 per-channel weights, uint8 activations, ReLUs absorbed, the RLA path float where ORT has no integer op', async () => {
    const model = smallModel();
    try {
      const proto = buildOnnxModel(model, { dynamicBatch: true });
      const encode = (graph: typeof proto.graph) => encodeModel({ ...proto, graph });
      const { ranges } = await calibrate(encode, proto.graph, batches(2), { observer: 'minmax', threads: 1 });
      const graph = quantizeGraph(proto.graph, ranges, { keepFloat: new Set(['fc/Gemm']) });
      const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
      const producers = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
      for (const conv of graph.nodes.filter((n) => n.opType === 'Conv')) {
        const weight = producers.get(conv.inputs[1]);
        assert.equal(weight?.opType, 'DequantizeLinear', `${conv.name} reads a dequantized weight`);
        assert.equal(initializers.get(weight.inputs[0])?.dataType, DataType.INT8);
        assert.equal(weight.attributes.axis?.value, 0, 'per output channel');
        assert.equal(producers.get(conv.inputs[0])?.opType, 'DequantizeLinear', `${conv.name} reads uint8`);
        if (conv.inputs[2])
          assert.equal(
            initializers.get(producers.get(conv.inputs[2])?.inputs[0] ?? '')?.dataType,
            DataType.INT32,
          );
      }
      const count = (op: string) => graph.nodes.filter((n) => n.opType === op).length;
      assert.ok(proto.graph.nodes.some((n) => n.opType === 'Relu'));
      assert.equal(count('Relu'), 0, 'every ReLU follows a conv or an add, and is absorbed');
      assert.equal(count('Tanh'), 4);
      assert.equal(count('BatchNormalization'), 4, 'BN on h + u stays float');
      const fc = graph.nodes.find((n) => n.name === 'fc/Gemm');
      assert.equal(
        initializers.get(fc?.inputs[1] ?? '')?.dataType,
        DataType.FLOAT,
        'a kept layer stays float32',
      );

      const images = testImages([6, 3, SIZE, SIZE], 40);
      const float32 = await createInferenceSession(encode(proto.graph), { threads: 1 });
      const int8 = await createInferenceSession(encode(graph), { threads: 1 });
      try {
        const a = (await float32.runNchw(images, [6, 3, SIZE, SIZE])).logits.data;
        const b = (await int8.runNchw(images, [6, 3, SIZE, SIZE])).logits.data;
        let error = 0;
        let norm = 0;
        for (let i = 0; i < a.length; i++) {
          error += (a[i] - b[i]) ** 2;
          norm += a[i] ** 2;
        }
        assert.ok(
          Math.sqrt(error / norm) < 0.1,
          `int8 logits within 10% of float32: ${Math.sqrt(error / norm)}`,
        );
      } finally {
        await Promise.all([float32.release(), int8.release()]);
      }
    } finally {
      model.dispose();
    }
  });

  it('splits each layer reading cat(x, h) by input (own scales), computing the same float function', async () => {
    const model = smallModel();
    try {
      const { proto, encode, channelsOf } = await probedExport(model, { dynamicBatch: true });
      const split = splitConcatLayers(proto.graph, channelsOf);
      assert.equal(countOps(proto.graph, 'Concat'), 5, 'cat(x, h) before each of 4 blocks and at the head');
      assert.equal(countOps(split, 'Concat'), 0);
      assert.equal(countOps(split, 'Conv'), countOps(proto.graph, 'Conv') + 4);
      assert.equal(countOps(split, 'Gemm'), 2);
      await assertSameLogits(encode, proto.graph, split, 'split logits');
    } finally {
      model.dispose();
    }
  });

  it('moves dsRLA-MobileNetV2 concatenations past the depthwise conv and ReLU6, then splits the projection', async () => {
    const model = createModel('dsrla_mobilenetv2', {
      numClasses: 10,
      widthMult: 0.5,
      rlaChannel: 16,
      seed: 5,
    });
    calibrateBatchNorm(model, testImages([8, 3, SIZE, SIZE], 9), [8, 3, SIZE, SIZE]);
    model.eval();
    try {
      const { proto, encode, channelsOf } = await probedExport(model, { dynamicBatch: true });
      const split = splitConcatLayers(proto.graph, channelsOf);
      const blocks = 17;
      assert.equal(countOps(proto.graph, 'Concat'), blocks + 1, 'cat(x, h) in every block and at the head');
      assert.equal(countOps(split, 'Concat'), 0);
      // Per block: the depthwise conv, its ReLU6 and the projection become two each (plus one Add).
      assert.equal(countOps(split, 'Conv'), countOps(proto.graph, 'Conv') + 2 * blocks + 1);
      assert.equal(countOps(split, 'Clip'), countOps(proto.graph, 'Clip') + blocks);
      assert.ok(
        split.nodes.some((n) => n.opType === 'Conv' && n.attributes.group?.value === 16),
        'a depthwise conv of h alone (16 channels)',
      );
      await assertSameLogits(encode, proto.graph, split, 'split logits');
    } finally {
      model.dispose();
    }
  });

  it('writes average pools and the RLA update BatchNorms as depthwise convs, computing the same float function', async () => {
    const model = smallModel();
    try {
      const { proto, encode, channelsOf } = await probedExport(model, {
        dynamicBatch: true,
        foldBatchNorm: true,
      });
      const rewritten = batchNormsAsDepthwiseConvs(averagePoolsAsDepthwiseConvs(proto.graph, channelsOf));
      const pools = countOps(proto.graph, 'AveragePool');
      const norms = countOps(proto.graph, 'BatchNormalization');
      assert.equal(pools, 3, 'h pooled 2x2 at each of three downsamplings');
      assert.equal(norms, 4, 'one unfoldable BN per block (on h + conv_out(y))');
      assert.equal(countOps(rewritten, 'AveragePool') + countOps(rewritten, 'BatchNormalization'), 0);
      assert.equal(countOps(rewritten, 'Conv'), countOps(proto.graph, 'Conv') + pools + norms);
      await assertSameLogits(encode, proto.graph, rewritten, 'rewritten logits');
    } finally {
      model.dispose();
    }
  });

  it('calibrates deterministically, and refuses an empty calibration set', async () => {
    const model = smallModel();
    try {
      const first = await quantizeModel(model, () => batches(2), { observer: 'percentile', threads: 1 });
      const second = await quantizeModel(model, () => batches(2), { observer: 'percentile', threads: 1 });
      assert.deepEqual(first.bytes, second.bytes, 'the same images give the same file');
      assert.equal(first.images, 8);
      assert.ok(first.bytes.length < 0.3 * first.floatBytes, `${first.bytes.length} vs ${first.floatBytes}`);
      assert.deepEqual(
        first.layers.map((l) => l.sensitivity),
        [...first.layers.map((l) => l.sensitivity)].sort((x, y) => y - x),
        'most sensitive first',
      );
      const kept = await quantizeModel(model, () => batches(1), { keepFloat: 2, threads: 1 });
      assert.deepEqual(
        kept.keptFloat,
        kept.layers.slice(0, 2).map((l) => l.node),
      );
      const metadata = readOnnxMetadata(kept.bytes);
      assert.equal(metadata['rla.precision'], 'int8');
      assert.equal(metadata['rla.num-classes'], '10');
      assert.deepEqual(JSON.parse(metadata['rla.kept-float']), kept.keptFloat);
      await assert.rejects(
        quantizeModel(model, () => []),
        /calibration set gave no images/,
      );
    } finally {
      model.dispose();
    }
  });

  it('rla quantize writes a model that rla eval runs, and names a calibration set it cannot read', async () => {
    const dir = tempDir('rla-quantize-');
    const model = createModel('rla_resnet50', SMALL);
    const weights = join(dir, 'model.safetensors');
    writeFileSync(weights, toSafetensorsBytes(model, identityOf(model), { dataset: 'fashion-mnist-subset' }));
    model.dispose();
    const printed: string[] = [];
    const out = (line: string) => printed.push(line);
    const output = join(dir, 'model.int8.onnx');
    const code = await main(
      ['quantize', '--weights', weights, '-o', output, '--samples', '16', '--check', '40'],
      out,
    );
    assert.equal(code, 0, printed.join('\n'));
    assert.ok(existsSync(output));
    assert.match(
      printed.join('\n'),
      /on the first 40 fashion-mnist-subset test images: top-1 float32 .*same top-1 class for/,
    );
    assert.equal(readOnnxMetadata(new Uint8Array(readFileSync(output)))['rla.observer'], 'percentile');
    printed.length = 0;
    const unchecked = join(dir, 'unchecked.onnx');
    const args = ['--samples', '8', '--check', '0', '--keep-fp32', '0'];
    assert.equal(await main(['quantize', '--weights', weights, '-o', unchecked, ...args], out), 0);
    assert.ok(existsSync(unchecked));
    assert.doesNotMatch(printed.join('\n'), /test images: top-1/, '--check 0 skips the comparison');
    printed.length = 0;
    assert.equal(
      await main(['eval', '--weights', output, '--limit', '20', '--json'], out),
      0,
      printed.join('\n'),
    );
    const result = JSON.parse(printed.join('\n'));
    assert.equal(result.count, 20);
    assert.equal(result.model, 'rla_resnet50 (int8)');
    const image = join(dir, 'photo.png');
    writeFileSync(image, pngBytes(patternRgb(1, 32, 32), 32, 32));
    printed.length = 0;
    assert.equal(await main(['predict', image, '--weights', output, '--json', '--top', '3'], out), 0);
    const [prediction] = JSON.parse(printed.join('\n'));
    assert.equal(prediction.top.length, 3);
    const total = prediction.top.reduce((sum: number, t: { probability: number }) => sum + t.probability, 0);
    assert.ok(total > 0 && total <= 1 + 1e-6, 'softmax probabilities');
    assert.match(prediction.top[0].class, /^[A-Z][a-z]/, 'Fashion-MNIST class names from the file');

    const errors: string[] = [];
    const consoleError = console.error;
    console.error = (message: unknown) => errors.push(String(message));
    try {
      const missing = join(dir, 'no-such-dir');
      const failed = await main(
        [
          'quantize',
          '--weights',
          weights,
          '-o',
          join(dir, 'x.onnx'),
          '--calib',
          'cifar10',
          '--data',
          missing,
        ],
        out,
      );
      assert.notEqual(failed, 0);
      assert.match(errors.join('\n'), /no-such-dir/);
      assert.ok(!existsSync(join(dir, 'x.onnx')), 'nothing written');
      errors.length = 0;
      assert.equal(
        await main(['quantize', '--weights', weights, '-o', join(dir, 'y.onnx'), '--observer', 'mean'], out),
        2,
      );
      assert.match(errors.join('\n'), /--observer mean: choose minmax, percentile, entropy/);
    } finally {
      console.error = consoleError;
    }
  });
});
