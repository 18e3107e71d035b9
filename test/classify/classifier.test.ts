import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { identityOf, toSafetensorsBytes } from '../../src/checkpoint/save-checkpoint.js';
import { readStateDict } from '../../src/checkpoint/state-dict-source.js';
import type { Classifier } from '../../src/classify/classifier.js';
import { loadClassifier as loadBrowserClassifier } from '../../src/classify/classifier.js';
import { loadClassifier } from '../../src/classify/load-node.js';
import { predictCommand } from '../../src/cli/commands/predict.js';
import { FASHION_MNIST_CLASSES } from '../../src/data/class-names.js';
import { decodeImage } from '../../src/data/decode.js';
import { IMAGENET_CLASSES } from '../../src/data/imagenet-classes.js';
import { mnistPreprocessing } from '../../src/data/preprocessing.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { configPreprocessing, pretrainedConfig } from '../../src/models/pretrained.js';
import { writeFileAtomic } from '../../src/weights/files-node.js';
import { tempDir } from '../data/_files.js';
import { fixturePath } from '../helpers/paths.js';
import { maxAbsDiff } from '../helpers/tensors.js';

/** Official weights of a small RLA-ResNet (10 classes, no stored preprocessing: the ImageNet config applies). */
const WEIGHTS = fixturePath('rla-official', 'rla_resnet_1111_w16.pth');
const PHOTO = fixturePath('classify', 'photo.png');

/** `rla predict --json` in-process: the top classes per image. */
async function predictJson(
  ...args: string[]
): Promise<Array<{ class: string; index: number; probability: number }>> {
  const lines: string[] = [];
  const code = await predictCommand([...args, '--json', '--backend', 'wasm'], (line) => lines.push(line));
  assert.equal(code, 0);
  return JSON.parse(lines.join('\n'))[0].top;
}

describe('pretrained config', () => {
  it('ImageNet models: the official evaluation (resize 256, center crop 224, ImageNet mean/std), 1000 classes', () => {
    const config = pretrainedConfig('rla_resnet50');
    assert.equal(config.inputSize, 224);
    assert.equal(config.cropPct, 0.875);
    assert.equal(config.interpolation, 'bilinear');
    assert.deepEqual(config.mean, [0.485, 0.456, 0.406]);
    assert.deepEqual(config.std, [0.229, 0.224, 0.225]);
    assert.equal(config.numClasses, 1000);
    assert.equal(config.labelSet, 'imagenet-1k');
    assert.equal(config.officialWeights?.top1Error, 22.83);
    assert.deepEqual(configPreprocessing(config).eval, [
      { op: 'resize', size: 256 },
      { op: 'centerCrop', size: 224 },
    ]);
    assert.equal(pretrainedConfig('resnet50').officialWeights, undefined);
  });

  it('CIFAR models: 32x32 as they are, CIFAR-10 statistics and labels', () => {
    const config = pretrainedConfig('rla_resnet110_cifar');
    assert.equal(config.inputSize, 32);
    assert.equal(config.labelSet, 'cifar-10');
    assert.deepEqual(configPreprocessing(config).eval, []);
  });

  it('ships the ImageNet-1k class names in label order', () => {
    assert.equal(IMAGENET_CLASSES.length, 1000);
    assert.equal(IMAGENET_CLASSES[0], 'tench');
    assert.equal(IMAGENET_CLASSES[207], 'golden retriever');
    assert.equal(IMAGENET_CLASSES[999], 'toilet tissue');
  });
});

describe('loadClassifier / classify', () => {
  let classifier: Classifier;
  const photo = new Uint8Array(readFileSync(PHOTO));

  before(async () => {
    await initBackend({ backend: 'wasm' });
    classifier = await loadClassifier(WEIGHTS);
  });
  after(() => classifier.dispose());

  it('prepares images exactly as the official train.py evaluation transform (torchvision fixture)', async () => {
    const reference = readStateDict(
      new Uint8Array(readFileSync(fixturePath('classify', 'photo.official-eval.pth'))),
    ).tensors.get('input');
    assert.ok(reference);
    assert.deepEqual(reference.shape, [1, 3, 224, 224]);
    const nchw = reference.toFloat32();
    const nhwc = await classifier.prepare(photo);
    const plane = 224 * 224;
    const transposed = new Float32Array(nhwc.length);
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) transposed[c * plane + p] = nhwc[3 * p + c];
    assert.equal(
      maxAbsDiff(transposed, nchw),
      0,
      'float32 for float32, as ToTensor + Normalize compute them',
    );
  });

  it('gives the same top-5 as rla predict for the same weights and image', async () => {
    const predicted = await predictJson(PHOTO, '--weights', WEIGHTS);
    const classified = await classifier.classify(photo, { topk: 5 });
    assert.equal(classified.length, 5);
    assert.deepEqual(
      classified.map(({ label, index, score }) => ({ class: label, index, probability: score })),
      predicted,
    );
    // 10 classes: the ImageNet label set does not apply, so classes are named by index.
    assert.equal(classified[0].label, `class ${classified[0].index}`);
    const scores = classified.map((p) => p.score);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
    );
  });

  it('reads a path, bytes, ImageData-like RGBA, a RawImage and a pixel tensor alike', async () => {
    const expected = await classifier.logits(PHOTO);
    const raw = decodeImage(photo, 'photo.png');
    const rgba = new Uint8ClampedArray(raw.width * raw.height * 4);
    for (let p = 0; p < raw.width * raw.height; p++) {
      rgba.set(raw.data.subarray(3 * p, 3 * p + 3), 4 * p);
      rgba[4 * p + 3] = 255;
    }
    const pixels = tf.tensor3d(raw.data, [raw.height, raw.width, 3], 'int32');
    try {
      for (const input of [
        photo,
        photo.buffer,
        raw,
        { data: rgba, width: raw.width, height: raw.height },
        pixels,
      ]) {
        assert.deepEqual(await classifier.logits(input), expected);
      }
    } finally {
      pixels.dispose();
    }
  });

  it('draws image elements at their natural size on an OffscreenCanvas (the browser path, with a stand-in canvas)', async () => {
    const raw = decodeImage(photo, 'photo.png');
    const rgba = new Uint8ClampedArray(raw.width * raw.height * 4);
    for (let p = 0; p < raw.width * raw.height; p++) {
      rgba.set(raw.data.subarray(3 * p, 3 * p + 3), 4 * p);
      rgba[4 * p + 3] = 255;
    }
    const element = { width: 64, height: 48, naturalWidth: raw.width, naturalHeight: raw.height };
    const canvases: Array<[number, number]> = [];
    const drawn: unknown[] = [];
    class StandInCanvas {
      constructor(width: number, height: number) {
        canvases.push([width, height]);
      }
      getContext() {
        return {
          drawImage: (image: unknown) => drawn.push(image),
          getImageData: (_x: number, _y: number, width: number, height: number) => ({
            data: rgba,
            width,
            height,
          }),
        };
      }
    }
    const scope = globalThis as { OffscreenCanvas?: unknown };
    scope.OffscreenCanvas = StandInCanvas;
    try {
      assert.deepEqual(await classifier.logits(element), await classifier.logits(photo));
    } finally {
      delete scope.OffscreenCanvas;
    }
    assert.deepEqual(canvases, [[raw.width, raw.height]]);
    assert.deepEqual(drawn, [element]);
  });

  it('classify, embed, features and featureInfo leave no tensors behind', async () => {
    await classifier.classify(photo); // warm-up: kernels and backend state allocated once
    const before = tf.memory().numTensors;
    await classifier.classify(photo);
    const embedding = await classifier.embed(photo);
    const features = await classifier.features(photo);
    tf.dispose(features.flatMap((f) => (f.h ? [f.x, f.h] : [f.x])));
    classifier.featureInfo();
    assert.equal(tf.memory().numTensors, before);
    // head.features of an RLA-ResNet: pooled x (2048) and h (rla_channel 32).
    assert.equal(embedding.length, 2048 + 32);
  });

  it('featureInfo: channels and reduction per stage, with the hidden state h; outIndices selects stages', async () => {
    assert.deepEqual(
      classifier.featureInfo().map(({ channels, reduction, hChannels }) => [channels, reduction, hChannels]),
      [
        [256, 4, 32],
        [512, 8, 32],
        [1024, 16, 32],
        [2048, 32, 32],
      ],
    );
    const backbone = await loadClassifier(WEIGHTS, { featuresOnly: true, outIndices: [1, 3] });
    try {
      assert.deepEqual(
        backbone.featureInfo().map((f) => f.name),
        ['stage2', 'stage4'],
      );
      const features = await backbone.features(photo);
      assert.deepEqual(
        features.map((f) => [f.x.shape, f.h?.shape]),
        [
          [
            [1, 28, 28, 512],
            [1, 28, 28, 32],
          ],
          [
            [1, 7, 7, 2048],
            [1, 7, 7, 32],
          ],
        ],
      );
      tf.dispose(features.flatMap((f) => (f.h ? [f.x, f.h] : [f.x])));
      await assert.rejects(backbone.classify(photo), /loaded with featuresOnly/);
    } finally {
      await backbone.dispose();
    }
    const wrong = await loadClassifier(WEIGHTS, { outIndices: [4] });
    try {
      await assert.rejects(wrong.features(photo), /outIndices: 4 is not a stage index 0\.\.3/);
    } finally {
      await wrong.dispose();
    }
  });

  it('runs on ONNX Runtime with session options and agrees with TF.js on the top-5', async () => {
    const ort = await loadClassifier(WEIGHTS, { engine: 'ort', session: { threads: 1, logLevel: 'error' } });
    try {
      assert.equal(ort.engine, 'ort');
      const [a, b] = [await ort.classify(photo), await classifier.classify(photo)];
      assert.deepEqual(
        a.map((p) => p.index),
        b.map((p) => p.index),
      );
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i].score - b[i].score) < 1e-4);
    } finally {
      await ort.dispose();
    }
    await assert.rejects(
      loadClassifier(WEIGHTS, { engine: 'ort', session: { logLevel: 'loud' as never } }),
      /logLevel must be one of verbose, info, warning, error, fatal/,
    );
  });

  it('a trained file: its stored preprocessing (Fashion-MNIST, gray 28x28) and class names, as rla predict', async () => {
    const model = createModel('rla_resnet50', {
      layers: [1, 1, 1, 1],
      widthPerGroup: 4,
      rlaChannel: 8,
      numClasses: 10,
      seed: 3,
    });
    const bytes = toSafetensorsBytes(model, identityOf(model), {
      preprocessing: JSON.stringify(mnistPreprocessing()),
      classes: JSON.stringify(FASHION_MNIST_CLASSES),
    });
    model.dispose();
    const file = join(tempDir(), 'best.safetensors');
    await writeFileAtomic(file, bytes);
    const trained = await loadBrowserClassifier(bytes, { decode: decodeImage });
    try {
      assert.equal(trained.inputSize, 32);
      assert.deepEqual(trained.labels, FASHION_MNIST_CLASSES);
      const classified = await trained.classify(photo, { topk: 3 });
      assert.ok(FASHION_MNIST_CLASSES.includes(classified[0].label as never));
      assert.deepEqual(
        classified.map(({ label, index, score }) => ({ class: label, index, probability: score })),
        await predictJson(PHOTO, '--weights', file, '--top', '3'),
      );
    } finally {
      await trained.dispose();
    }
  });

  it('the browser loader: registry names build fresh models; paths, ort and canvas inputs are clear errors in Node', async () => {
    const fresh = await loadBrowserClassifier('rla_resnet50', {
      options: { layers: [1, 1, 1, 1], widthPerGroup: 4, seed: 1 },
    });
    try {
      assert.equal(fresh.numClasses, 1000);
      assert.equal(fresh.labels[0], 'tench');
      await assert.rejects(fresh.classify(PHOTO), /file paths need rla-net\/node/);
      await assert.rejects(fresh.classify(photo), /decoding image bytes needs a browser/);
      await assert.rejects(fresh.classify({ width: 10, height: 10 }), /need a browser canvas/);
      await assert.rejects(
        fresh.classify({ data: new Uint8Array(7), width: 2, height: 2 }),
        /7 bytes for 2x2 pixels/,
      );
    } finally {
      await fresh.dispose();
    }
    await assert.rejects(loadBrowserClassifier('rla_resnet50', { engine: 'ort' }), /needs rla-net\/node/);
  });
});
