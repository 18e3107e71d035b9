import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { huggingFaceConfigs } from '../../src/classify/export-description.js';
import { UsageError } from '../../src/cli/args.js';
import { exportOnnxCommand } from '../../src/cli/commands/export-onnx.js';
import { predictCommand } from '../../src/cli/commands/predict.js';
import { FASHION_MNIST_CLASSES } from '../../src/data/class-names.js';
import { mnistPreprocessing } from '../../src/data/preprocessing.js';
import { initBackend } from '../../src/engine/backend.js';
import { readOnnxMetadata } from '../../src/onnx/read-metadata.js';
import { tempDir } from '../data/_files.js';
import { fixturePath } from '../helpers/paths.js';

const WEIGHTS = fixturePath('rla-official', 'rla_resnet_1111_w16.pth');
const PHOTO = fixturePath('classify', 'photo.png');

async function run(command: typeof predictCommand, ...argv: string[]): Promise<string[]> {
  const lines: string[] = [];
  assert.equal(await command(argv, (line) => lines.push(line)), 0);
  return lines;
}

describe('rla export-onnx: self-describing files', () => {
  const folder = tempDir();
  const onnx = join(folder, 'model.onnx');

  before(async () => {
    await initBackend({ backend: 'wasm' });
    await run(exportOnnxCommand, '--weights', WEIGHTS, '-o', onnx, '--hf-config');
  });

  it('writes mean/std/input size/crop and the class names into the ONNX metadata', () => {
    const metadata = readOnnxMetadata(new Uint8Array(readFileSync(onnx)), 'model.onnx');
    assert.deepEqual(JSON.parse(metadata.mean), [0.485, 0.456, 0.406]);
    assert.deepEqual(JSON.parse(metadata.std), [0.229, 0.224, 0.225]);
    assert.deepEqual(JSON.parse(metadata.input_size), [3, 224, 224]);
    assert.equal(metadata.crop_pct, '0.875');
    assert.equal(metadata.interpolation, 'bilinear');
    assert.deepEqual(
      JSON.parse(metadata.classes),
      Array.from({ length: 10 }, (_, i) => `class ${i}`),
    );
    assert.deepEqual(JSON.parse(metadata.preprocessing).eval, [
      { op: 'resize', size: 256 },
      { op: 'centerCrop', size: 224 },
    ]);
    assert.equal(metadata['rla.model'], 'rla_resnet50');
  });

  it('--hf-config writes config.json and preprocessor_config.json beside it', () => {
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
    assert.equal(config.num_labels, 10);
    assert.equal(config.id2label['3'], 'class 3');
    assert.equal(config.label2id['class 3'], 3);
    assert.equal(config.image_size, 224);
    const processor = JSON.parse(readFileSync(join(folder, 'preprocessor_config.json'), 'utf8'));
    assert.equal(processor.do_resize, true);
    assert.deepEqual(processor.size, { shortest_edge: 224 });
    assert.equal(processor.crop_pct, 0.875);
    assert.equal(processor.resample, 2);
    assert.deepEqual(processor.image_mean, [0.485, 0.456, 0.406]);
    assert.equal(processor.rescale_factor, 1 / 255);
  });

  it('rla predict reads the export alone (ORT session flags passed through) and agrees with the weights on TF.js', async () => {
    const fromOnnx = JSON.parse(
      (
        await run(
          predictCommand,
          PHOTO,
          '--weights',
          onnx,
          '--json',
          '--threads',
          '1',
          '--ort-log-level',
          'error',
          '--execution-providers',
          'cpu',
        )
      ).join('\n'),
    )[0].top;
    const fromWeights = JSON.parse(
      (await run(predictCommand, PHOTO, '--weights', WEIGHTS, '--json')).join('\n'),
    )[0].top;
    assert.deepEqual(
      fromOnnx.map((p: { index: number }) => p.index),
      fromWeights.map((p: { index: number }) => p.index),
    );
    await assert.rejects(
      run(predictCommand, PHOTO, '--weights', onnx, '--ort-log-level', 'loud'),
      (error: Error) =>
        error instanceof UsageError && /--ort-log-level loud: choose one of verbose/.test(error.message),
    );
    await assert.rejects(
      run(predictCommand, PHOTO, '--weights', onnx, '--engine', 'tfjs'),
      /is an ONNX model: it runs with --engine ort/,
    );
  });

  it('a pipeline Hugging Face processors cannot express (Fashion-MNIST gray + pad) is kept exact, resize off', () => {
    const { preprocessorConfig, config } = huggingFaceConfigs(
      { preprocessing: mnistPreprocessing(), labels: FASHION_MNIST_CLASSES },
      { name: 'rla_resnet50', options: {}, numClasses: 10 },
    ) as { preprocessorConfig: Record<string, unknown>; config: Record<string, unknown> };
    assert.equal(preprocessorConfig.do_resize, false);
    assert.deepEqual(preprocessorConfig.rla_preprocessing, mnistPreprocessing());
    assert.deepEqual((config.id2label as Record<string, string>)['9'], 'Ankle boot');
  });
});
