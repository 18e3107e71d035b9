/**
 * ONNX Runtime against the official PyTorch outputs: the three parity fixtures (real checkpoints, set A) and the
 * eighteen ablation / MobileNet references (official classes, deterministic weights). ORT runs every graph with
 * all its optimizations on; logits must be within 1e-4 * max(1, max|ref|) of both PyTorch and our TF.js model,
 * intermediates within 1e-3 * max|ref| (the fixtures' README tolerances).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { initBackend } from '../../src/engine/backend.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createModel } from '../../src/models/index.js';
import type { ModelOptions } from '../../src/models/registry.js';
import type { ExportOnnxOptions } from '../../src/onnx/export.js';
import { officialBytes, RESNET_FIXTURES, readFixtureTensors } from '../helpers/fixtures.js';
import { fixturePath } from '../helpers/paths.js';
import { loadDeterministicWeights } from '../models/_deterministic-weights.js';
import { readReferenceFile } from '../models/_reference.js';
import { expectClose, intermediateTolerance, logitsTolerance, runExported, runTfjs } from './helpers/ort.js';

/** The set-A fixtures, the MobileNet trainer checkpoint included. */
const FIXTURES: Array<{ fixture: string; weights: string; model: string; options: ModelOptions }> = [
  ...RESNET_FIXTURES.map((f) => ({ ...f, weights: `${f.fixture}.pth` })),
  {
    fixture: 'dsrla_mobilenetv2_w0.5_k16_c10',
    weights: 'dsrla_mobilenetv2_w0.5_k16_c10.checkpoint.pth.tar',
    model: 'dsrla_mobilenetv2',
    options: { widthMult: 0.5, rlaChannel: 16, numClasses: 10 },
  },
];

/** Export variants checked on the fixtures: the default, unfolded BN, and both ends of the opset range. */
const VARIANTS: Array<[string, ExportOnnxOptions]> = [
  ['BN folded, opset 17, dynamic batch', { dynamicBatch: true }],
  ['BN kept, opset 13', { foldBatchNorm: false, opset: 13, batchSize: 2 }],
  ['BN folded, opset 23, fixed 64x64', { opset: 23, inputSize: 64, batchSize: 2 }],
];

function withModel(name: string, options: ModelOptions, fn: (model: ClassifierModel) => Promise<void>) {
  const model = createModel(name, options);
  return fn(model).finally(() => model.dispose());
}

describe('ONNX Runtime matches the official fixtures and TF.js', () => {
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });

  for (const { fixture, weights, model: name, options } of FIXTURES) {
    it(`${fixture}: logits and every intermediate match PyTorch and TF.js`, async (t) => {
      const expected = readFixtureTensors(`${fixture}.eval.safetensors`);
      const input = expected.get('input');
      assert.ok(input);
      await withModel(name, options, async (model) => {
        loadCheckpoint(model, officialBytes(weights), { fileName: weights });
        const ours = runTfjs(model, input.data, input.shape);
        for (const [variant, exportOptions] of VARIANTS) {
          const outputs = await runExported(model, input.data, input.shape, {
            ...exportOptions,
            intermediates: true,
          });
          for (const [key, reference] of expected) {
            if (key === 'input') continue;
            assert.ok(outputs[key], `${variant}: ORT produced no ${key}`);
            const tolerance =
              key === 'logits' ? logitsTolerance(reference.data) : intermediateTolerance(reference.data);
            const diff = expectClose(
              outputs[key].data,
              reference.data,
              tolerance,
              `${fixture} ${variant} ${key} vs PyTorch`,
            );
            expectClose(outputs[key].data, ours[key], tolerance, `${fixture} ${variant} ${key} vs TF.js`);
            if (key === 'logits') {
              t.diagnostic(
                `${variant}: logits vs PyTorch ${diff.toExponential(2)} (tolerance ${tolerance.toExponential(2)})`,
              );
            }
          }
        }
      });
    });
  }

  describe('official ablation and MobileNet classes (test/fixtures/ablations)', () => {
    const reference = readReferenceFile(fixturePath('ablations', 'reference.safetensors'));
    const input = reference.tensors.get('input');
    const names = [...reference.tensors.keys()]
      .filter((k) => k.endsWith('.logits'))
      .map((k) => k.slice(0, -'.logits'.length));

    /** createModel options from the official constructor call recorded in the reference's metadata. */
    function optionsOf(name: string): ModelOptions {
      const call = reference.metadata[`${name}.constructor`];
      const args = JSON.parse(call.slice(call.indexOf('(') + 1, call.lastIndexOf(')'))) as Record<
        string,
        unknown
      >;
      const options: ModelOptions = { seed: 1 };
      for (const [key, value] of Object.entries(args)) {
        if (key === 'layers') options.layers = value as number[];
        else if (key === 'num_classes') options.numClasses = value as number;
        else if (key === 'rla_channel' || key === 'channel_k') options.rlaChannel = value as number;
        else if (key === 'width_per_group') options.widthPerGroup = value as number;
        else if (key === 'width_mult') options.widthMult = value as number;
        else if (key === 'ECA' && Array.isArray(value)) options.ecaKernelSizes = value as number[];
        else if (key !== 'ECA') throw new Error(`${name}: unmapped official argument ${key}`);
      }
      return options;
    }

    it('covers every model of the reference file', () => {
      assert.equal(names.length, 18);
    });

    for (const name of names) {
      it(`${name}: ORT logits and classifier features match the official class and TF.js`, async () => {
        assert.ok(input);
        await withModel(name, optionsOf(name), async (model) => {
          loadDeterministicWeights(model);
          const ours = runTfjs(model, input.data, input.shape);
          const outputs = await runExported(model, input.data, input.shape, {
            intermediates: ['head.features'],
            dynamicBatch: true,
          });
          for (const key of ['logits', 'head.features']) {
            const official = reference.tensors.get(`${name}.${key}`);
            assert.ok(official);
            const tolerance =
              key === 'logits' ? logitsTolerance(official.data) : intermediateTolerance(official.data);
            expectClose(outputs[key].data, official.data, tolerance, `${name} ${key} vs PyTorch`);
            expectClose(outputs[key].data, ours[key], tolerance, `${name} ${key} vs TF.js`);
          }
        });
      });
    }
  });
});
