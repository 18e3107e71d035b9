import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import pngjs from 'pngjs';
import { saveModelFile } from '../../src/checkpoint/model-file.js';
import { main } from '../../src/cli/main.js';
import type { RawImage } from '../../src/data/image.js';
import { cifarPreprocessing } from '../../src/data/preprocessing.js';
import { initBackend } from '../../src/engine/backend.js';
import { CifarDenseNet } from '../../src/models/cifar/densenet.js';
import {
  type BackboneFeatures,
  ClassifierModel,
  type IntermediateSink,
} from '../../src/models/classifier.js';
import { createModel } from '../../src/models/index.js';
import { viridis } from '../../src/render/colormap.js';
import { encodePng } from '../../src/render/png.js';
import { saveTrainedModel } from '../../src/train/trained-model-file.js';
import { gradCam } from '../../src/visualize/grad-cam.js';
import { sharingNorms } from '../../src/visualize/sharing-norms.js';
import { visualizeImage } from '../../src/visualize/visualize-image.js';
import { patternRgb, pngBytes, tempDir } from '../data/_files.js';

const TINY_RLA = { layers: [1, 1, 1, 1], widthPerGroup: 2, rlaChannel: 4, numClasses: 10, seed: 3 };

async function rla(...argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(argv, (line) => lines.push(line));
  return { code, lines };
}

/**
 * A model whose answer is known: the backbone 4x4-average-pools the image; x is its red and green channels, h its
 * blue one. The head pools cat(x, h) and scores class 0 = mean green, class 1 = mean red - mean blue. With red
 * only in one quadrant and green and blue uniform, class 1's evidence sits in that quadrant: Grad-CAM's weights
 * are +1/HW on red, -1/HW on blue, so its map is relu(red - blue)/HW, zero outside the red quadrant.
 */
class QuadrantModel extends ClassifierModel {
  readonly numClasses = 2;
  checkInputSize(): void {}
  protected runBackbone(input: tf.Tensor4D, sink?: IntermediateSink): BackboneFeatures {
    const pooled = tf.avgPool(input, 4, 4, 'valid');
    const x = tf.slice(pooled, [0, 0, 0, 0], [-1, -1, -1, 2]);
    const h = tf.slice(pooled, [0, 0, 0, 2], [-1, -1, -1, 1]);
    sink?.('stage1.x', x);
    sink?.('stage1.h', h);
    return { x, h };
  }
  protected runHead(features: BackboneFeatures, sink?: IntermediateSink): tf.Tensor2D {
    const pooled = tf.mean(tf.concat([features.x, features.h as tf.Tensor4D], 3), [1, 2]) as tf.Tensor2D;
    sink?.('head.features', pooled);
    // Rows: red, green, blue features; columns: class 0, class 1.
    return tf.matMul(pooled, tf.tensor2d([0, 1, 1, 0, 0, -1], [3, 2]));
  }
}

/** A 32x32 input: red 1 in the rows/cols given, green 0.05 and blue 0.1 everywhere. */
function quadrantInput(rows: [number, number], cols: [number, number]): tf.Tensor4D {
  const data = new Float32Array(32 * 32 * 3);
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++) {
      const p = 3 * (y * 32 + x);
      data[p] = y >= rows[0] && y < rows[1] && x >= cols[0] && x < cols[1] ? 1 : 0;
      data[p + 1] = 0.05;
      data[p + 2] = 0.1;
    }
  return tf.tensor4d(data, [1, 32, 32, 3]);
}

/** Share of `map`'s (side x side) mass in rows [r0, r1) x cols [c0, c1). */
function massIn(map: Float32Array, side: number, r0: number, r1: number, c0: number, c1: number): number {
  let inside = 0;
  let total = 0;
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const v = map[y * side + x];
      total += v;
      if (y >= r0 && y < r1 && x >= c0 && x < c1) inside += v;
    }
  return inside / total;
}

const rawImage = (rgb: Uint8Array, side: number): RawImage => ({
  data: rgb,
  height: side,
  width: side,
  channels: 3,
});

describe('rla visualize: hidden state, mean |x|, Grad-CAM and DenseNet sharing norms', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('Grad-CAM of a model whose class evidence sits in one quadrant puts its mass there', () => {
    const model = new QuadrantModel();
    for (const [rows, cols, quadrant] of [
      [[16, 32], [16, 32], 'bottom-right'],
      [[0, 16], [0, 16], 'top-left'],
    ] as const) {
      const input = quadrantInput([...rows], [...cols]);
      const before = tf.memory().numTensors;
      const result = gradCam(model, input);
      assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
      assert.equal(result.classIndex, 1, 'red - blue (0.25 - 0.1) beats green (0.05)');
      assert.deepEqual([result.map.height, result.map.width], [8, 8]);
      // relu(red - blue) / 64 with red 1 inside, 0 outside: 0.9 / 64 inside the quadrant, 0 elsewhere.
      const r = [rows[0] / 4, rows[1] / 4];
      const c = [cols[0] / 4, cols[1] / 4];
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 8; x++) {
          const inside = y >= r[0] && y < r[1] && x >= c[0] && x < c[1];
          assert.ok(
            Math.abs(result.map.values[y * 8 + x] - (inside ? 0.9 / 64 : 0)) < 1e-7,
            `${quadrant} ${y},${x}`,
          );
        }
      // At the input's resolution (bilinear upsampling blurs one pixel of the 8x8 map into its neighbours).
      const image = rawImage(new Uint8Array(32 * 32 * 3).fill(128), 32);
      const { camAtInput } = visualizeImage(model, input, image);
      assert.ok(massIn(camAtInput, 32, rows[0], rows[1], cols[0], cols[1]) > 0.9, quadrant);
      input.dispose();
    }
    // Asked for class 0 (uniform green evidence), the map is flat: a quarter of the mass in each quadrant.
    const input = quadrantInput([16, 32], [16, 32]);
    const green = gradCam(model, input, 0);
    assert.ok(Math.abs(massIn(green.map.values, 8, 0, 4, 0, 4) - 0.25) < 1e-6);
    assert.throws(() => gradCam(model, input, 2), /class 2 is not one of the model's 2 classes/);
    input.dispose();
  });

  it('draws an RLA-ResNet: input, per-stage mean |x| and h grids, Grad-CAM; deterministic, no leaks', () => {
    const model = createModel('rla_resnet50', TINY_RLA);
    model.eval();
    const rgb = patternRgb(1, 128, 128);
    const input = rawImage(rgb, 128);
    const x = tf.tensor4d(
      Float32Array.from(rgb, (v) => v / 255 - 0.5),
      [1, 128, 128, 3],
    );
    const before = tf.memory().numTensors;
    const first = visualizeImage(model, x, input);
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    const shapes = Object.fromEntries(
      [...first.pictures].map(([name, p]) => [name, [p.height, p.width, p.channels]]),
    );
    // Stage s is 128 / 2^(s+1) wide: maps enlarged by an integer zoom to >= 224 (32 x 7), h tiles to >= 56
    // (32 x 2, 16 x 4, 8 x 7, 4 x 14) in a 2x2 grid with 2-pixel gaps.
    assert.deepEqual(shapes, {
      input: [128, 128, 3],
      stage1_x: [224, 224, 3],
      stage1_h: [130, 130, 3],
      stage2_x: [224, 224, 3],
      stage2_h: [130, 130, 3],
      stage3_x: [224, 224, 3],
      stage3_h: [114, 114, 3],
      stage4_x: [224, 224, 3],
      stage4_h: [114, 114, 3],
      gradcam: [128, 128, 3],
    });
    // Each map is normalised to its own range: its lowest and highest values take viridis' two ends.
    const colors = (p: RawImage) =>
      new Set(Array.from({ length: p.height * p.width }, (_, i) => p.data.subarray(3 * i, 3 * i + 3).join()));
    const stage2 = colors(first.pictures.get('stage2_x')!);
    assert.ok(stage2.has(viridis(0).join()) && stage2.has(viridis(1).join()));
    const hTile = colors(first.pictures.get('stage3_h')!);
    assert.ok(hTile.has('255,255,255'), 'white gaps between tiles');
    assert.ok(first.camAtInput.every((v) => v >= 0 && v <= 1));
    // Normalised to its maximum, which bilinear upsampling may soften by a level or two.
    assert.ok(Math.max(...first.camAtInput) > 0.98);
    assert.ok(
      first.gradCam.map.values.every((v) => v >= 0),
      'relu',
    );
    const second = visualizeImage(model, x, input);
    for (const [name, picture] of first.pictures)
      assert.ok(
        Buffer.from(encodePng(picture)).equals(Buffer.from(encodePng(second.pictures.get(name)!))),
        name,
      );
    x.dispose();
    model.dispose();
  });

  it('rla visualize writes the PNGs for an image and a trained weights file', async () => {
    const dir = tempDir('rla-visualize-');
    const model = createModel('rla_resnet50', TINY_RLA);
    const weights = join(dir, 'best.safetensors');
    await saveTrainedModel(weights, model, {
      preprocessing: cifarPreprocessing(),
      classNames: Array.from({ length: 10 }, (_, i) => `c${i}`),
      epoch: 1,
      valTop1: null,
      dataset: 'cifar10',
    });
    model.dispose();
    const image = join(dir, 'image.png');
    writeFileSync(image, pngBytes(patternRgb(2, 32, 32), 32, 32));
    const out = join(dir, 'pictures');
    const { code, lines } = await rla('visualize', image, '--weights', weights, '-o', out, '--class', '3');
    assert.equal(code, 0, lines.join('\n'));
    assert.match(lines[0], /^image\.png: Grad-CAM of c3 \(3\), probability \d+\.\d\d%$/);
    assert.deepEqual(readdirSync(out).sort(), [
      'gradcam.png',
      'input.png',
      ...[1, 2, 3, 4].flatMap((s) => [`stage${s}_h.png`, `stage${s}_x.png`]),
    ]);
    const cam = pngjs.PNG.sync.read(readFileSync(join(out, 'gradcam.png')));
    assert.deepEqual([cam.width, cam.height], [32, 32]);
    assert.equal((await rla('visualize', '--weights', weights)).code, 2, 'an image is needed');
    assert.equal((await rla('visualize', image, '--weights', 'model.onnx')).code, 2, 'gradients need TF.js');
    assert.equal((await rla('visualize', image, '--weights', weights, '--sharing-norms', '-o', out)).code, 2);
    const notDense = await rla('visualize', '--sharing-norms', '--weights', weights, '-o', out);
    assert.equal(notDense.code, 1, 'sharing norms of an RLA-ResNet');
  });

  it('sharing norms: L1 of each shared weight by lag, by source, or averaged by lag without sharing', () => {
    const fill = (model: CifarDenseNet, value: (key: string) => number) => {
      for (const { key, tensor, owner } of model.stateEntries()) {
        if (key.includes('conv')) owner.set(tf.fill(tensor.shape, value(key)));
      }
    };
    // depth 22: 3 layers per block, growth 4 -> bottleneck 16; shared weights are 4 x 16 = 64 values.
    const lag = new CifarDenseNet({ depth: 22, growthRate: 4, sharing: 'lag', numClasses: 2, seed: 1 });
    fill(lag, (key) => (key.includes('shared_convs.1') ? -2 : 0.5));
    const lagNorms = sharingNorms(lag);
    assert.equal(lagNorms.axis, 'lag');
    assert.deepEqual(lagNorms.blocks[0], { block: 'dense1', positions: [1, 2], l1: [32, 128] });
    assert.equal(lagNorms.blocks.length, 3);
    lag.dispose();
    // Without sharing, layer t's conv1 input channels are x^0 (8), x^1, ..., x^t (4 each); weight w = channel
    // index c + 1 makes the slice of x^l sum to 16 * sum(c + 1): lag 1 averages layers 1 (x^1) and 2 (x^2).
    const none = new CifarDenseNet({ depth: 22, growthRate: 4, sharing: 'none', numClasses: 2, seed: 1 });
    for (const layer of none.blocks[0].layers.items) {
      const [, , cin, cout] = layer.conv1.weight.value.shape;
      layer.conv1.weight.set(
        tf.tensor4d(
          Float32Array.from({ length: cin * cout }, (_, i) => Math.floor(i / cout) + 1),
          [1, 1, cin, cout],
        ),
      );
    }
    const sliceSum = (l: number) => 16 * [0, 1, 2, 3].reduce((s, k) => s + 8 + 4 * (l - 1) + k + 1, 0);
    const noneNorms = sharingNorms(none);
    assert.deepEqual(noneNorms.blocks[0].positions, [1, 2]);
    assert.deepEqual(noneNorms.blocks[0].l1, [(sliceSum(1) + sliceSum(2)) / 2, sliceSum(1)]);
    none.dispose();
  });

  it('rla visualize --sharing-norms draws Figure 2 from a Shared-Lag DenseNet-BC-100 file', async () => {
    const dir = tempDir('rla-sharing-');
    const model = createModel('densenet_bc100_sharedlag_cifar', { seed: 2 });
    const weights = join(dir, 'sharedlag.safetensors');
    await saveModelFile(model, weights);
    model.dispose();
    const { code, lines } = await rla('visualize', '--sharing-norms', '--weights', weights, '-o', dir);
    assert.equal(code, 0, lines.join('\n'));
    assert.equal(lines[0], 'lag sharing, L1 norm by lag:');
    // 16 layers per block: 15 shared weights, lags 1..15.
    assert.match(lines[1], /^ {2}dense1: 1:\S+ 2:\S+ .* 15:\S+$/);
    const png = pngjs.PNG.sync.read(readFileSync(join(dir, 'sharing_norms.png')));
    assert.deepEqual([png.width, png.height], [640, 400]);
    assert.match(readFileSync(join(dir, 'sharing_norms.svg'), 'utf8'), /dense3/);
  });
});
