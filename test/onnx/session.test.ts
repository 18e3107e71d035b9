/** The ONNX Runtime API (`createInferenceSession`, `predict`) and the CLI: `rla export-onnx`, `rla run --engine ort`. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { exportOnnxCommand } from '../../src/cli/commands/export-onnx.js';
import { runCommand } from '../../src/cli/commands/run.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { createInferenceSession } from '../../src/onnx/session.js';
import { readSafetensors, safetensorToFloat32Array } from '../../src/weights/safetensors.js';
import { readFixtureTensors } from '../helpers/fixtures.js';
import { fixturePath } from '../helpers/paths.js';
import { readOnnxModel } from './helpers/onnx-reader.js';
import { expectClose, logitsTolerance } from './helpers/ort.js';

const FIXTURE = 'rla_resnet_1111_w16';
const FIXTURE_ARGS = ['--options', '{"layers":[1,1,1,1],"widthPerGroup":16}', '--num-classes', '10'];

describe('ONNX Runtime sessions and CLI', () => {
  let directory: string;
  before(async () => {
    await initBackend({ backend: 'wasm' });
    directory = mkdtempSync(join(tmpdir(), 'rla-onnx-'));
  });
  after(() => rmSync(directory, { recursive: true, force: true }));

  it('predict takes an NHWC batch like model.forward and returns the same logits, leaking no tensor', async () => {
    const model = createModel('dsrla_mobilenetv2', { widthMult: 0.25, numClasses: 7, seed: 2 });
    const images = tf.randomNormal([3, 64, 64, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    try {
      model.eval();
      const expected = model.forward(images);
      const classifier = await createInferenceSession(model, { threads: 2 });
      const tensorsBefore = tf.memory().numTensors;
      const logits = await classifier.predict(images);
      assert.equal(tf.memory().numTensors, tensorsBefore + 1, 'predict leaves nothing but its result');
      assert.deepEqual(logits.shape, [3, 7]);
      expectClose(
        logits.dataSync(),
        expected.dataSync(),
        logitsTolerance(expected.dataSync()),
        'predict vs forward',
      );
      const nchw = tf.zeros([1, 3, 64, 64]) as tf.Tensor4D;
      await assert.rejects(classifier.predict(nchw), /NHWC image batch/);
      tf.dispose([expected, logits, nchw]);
      await classifier.release();
    } finally {
      images.dispose();
      model.dispose();
    }
    await assert.rejects(
      createInferenceSession(new Uint8Array(0), { threads: 0 }),
      /threads must be a positive integer/,
    );
  });

  it('rla export-onnx writes a file that createInferenceSession loads by path and that matches PyTorch', async () => {
    const onnxPath = join(directory, 'fixture.onnx');
    const lines: string[] = [];
    const code = await exportOnnxCommand(
      [
        'rla_resnet50',
        '--weights',
        fixturePath('rla-official', `${FIXTURE}.pth`),
        '-o',
        onnxPath,
        '--dynamic-batch',
        ...FIXTURE_ARGS,
      ],
      (line) => lines.push(line),
    );
    assert.equal(code, 0);
    assert.match(lines.join('\n'), /wrote .*fixture.onnx \(\d+\.\d MiB, opset 17\)/);
    assert.deepEqual(readOnnxModel(new Uint8Array(readFileSync(onnxPath))).inputs[0].shape, [
      'batch',
      3,
      'height',
      'width',
    ]);
    const expected = readFixtureTensors(`${FIXTURE}.eval.safetensors`);
    const input = expected.get('input');
    const logits = expected.get('logits');
    assert.ok(input && logits);
    const classifier = await createInferenceSession(onnxPath, { threads: 1 });
    try {
      assert.deepEqual(classifier.outputNames, ['logits']);
      const outputs = await classifier.runNchw(input.data, input.shape);
      expectClose(outputs.logits.data, logits.data, logitsTolerance(logits.data), 'exported file vs PyTorch');
    } finally {
      await classifier.release();
    }
  });

  it('rla export-onnx checks its arguments', async () => {
    const out = () => {};
    const onnxPath = join(directory, 'x.onnx');
    await assert.rejects(
      exportOnnxCommand(['rla_resnet50', '-o', onnxPath], out),
      /exactly one of --weights FILE and --untrained/,
    );
    await assert.rejects(
      exportOnnxCommand(['rla_resnet50', '--untrained'], out),
      /-o <model.onnx> is required/,
    );
    await assert.rejects(
      exportOnnxCommand(['resnet50', '--untrained', '-o', onnxPath, '--opset', '99'], out),
      /opset must be an integer from 13 to 23/,
    );
    const code = await exportOnnxCommand(
      [
        'resnet50',
        '--untrained',
        '-o',
        onnxPath,
        '--opset',
        '13',
        '--batch-size',
        '4',
        '--input-size',
        '96',
        '--no-fold-bn',
        '--options',
        '{"layers":[1,1,1,1],"widthPerGroup":8}',
      ],
      out,
    );
    assert.equal(code, 0);
    const graph = readOnnxModel(new Uint8Array(readFileSync(onnxPath)));
    assert.deepEqual(graph.inputs[0].shape, [4, 3, 96, 96]);
    assert.equal(graph.opsets[0].version, 13);
    assert.ok(graph.nodes.some((node) => node.opType === 'BatchNormalization'));
  });

  it('rla run --engine ort writes the logits and intermediates of the official fixture', async () => {
    const output = join(directory, 'ort.safetensors');
    const code = await runCommand(
      [
        '--model',
        'rla_resnet50',
        '--weights',
        fixturePath('rla-official', `${FIXTURE}.pth`),
        '--input',
        fixturePath('rla-official', `${FIXTURE}.eval.safetensors`),
        '-o',
        output,
        '--engine',
        'ort',
        '--intermediates',
        ...FIXTURE_ARGS,
      ],
      () => {},
    );
    assert.equal(code, 0);
    const written = readSafetensors(new Uint8Array(readFileSync(output)));
    const expected = readFixtureTensors(`${FIXTURE}.eval.safetensors`);
    assert.equal(written.metadata.backend, 'onnxruntime');
    for (const [key, reference] of expected) {
      if (key === 'input') continue;
      const tensor = written.tensors.get(key);
      assert.ok(tensor, `rla run wrote ${key}`);
      assert.deepEqual([...tensor.shape], reference.shape);
      if (key === 'logits')
        expectClose(safetensorToFloat32Array(tensor), reference.data, logitsTolerance(reference.data), key);
    }
    await assert.rejects(
      runCommand(['--engine', 'trt', '--weights', 'w', '--input', 'i', '-o', output], () => {}),
      /choose tfjs or ort/,
    );
  });

  it('runWithOnnxRuntime applies the model input-size rule of the TF.js engine (33x33 and 1x1 refused)', async () => {
    const { runWithOnnxRuntime } = await import('../../src/onnx/session.js');
    const model = createModel('rla_resnet50', { layers: [1, 1, 1, 1], widthPerGroup: 2, numClasses: 10 });
    try {
      for (const size of [33, 1]) {
        const shape = [1, 3, size, size];
        await assert.rejects(
          runWithOnnxRuntime(model, new Float32Array(3 * size * size), shape),
          /input|size/i,
          `${size}x${size}`,
        );
        assert.throws(() => model.checkInputSize(size, size));
      }
      const logits = await runWithOnnxRuntime(model, new Float32Array(3 * 32 * 32), [1, 3, 32, 32]);
      assert.deepEqual(logits.logits.shape, [1, 10]);
    } finally {
      model.dispose();
    }
  });
});
