/**
 * Batch-last activations in the training step (src/onnx/training/batch-last.ts): the planner puts a component
 * batch-last only where the im2col convs' Transposes it saves outweigh the conversions it adds, and the step
 * built with the plan computes the same loss and gradients as the step without it, with fewer Transposes.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { OnnxBuilder, type Value } from '../../src/onnx/builder.js';
import type { NodeProto } from '../../src/onnx/onnx-proto.js';
import { planBatchLast, type RewriteKind } from '../../src/onnx/training/batch-last.js';
import { OrtTrainer } from '../../src/onnx/training/session.js';
import { SGD } from '../../src/train/sgd.js';
import { smallTrainingOptions } from '../helpers/small-models.js';
import { assertClose, maxAbs } from '../helpers/tensors.js';
import { noise } from './_weighted-loss.js';

const MAP = [4, 8, 4, 4];

/**
 * x -> Conv (ONNX Runtime's own) -> Relu -> `readers` im2col convs, and a MaxPool of the Relu when `pooled`.
 * Returns the plan and the Relu's output.
 */
function plan(readers: number, pooled: boolean): { batchLast: boolean; relu: Value } {
  const b = new OnnxBuilder({ opset: 17, foldBatchNorm: false, training: true, batchSize: 4 });
  const shapes = new Map<Value, number[]>();
  const x = b.input('x', MAP);
  const w = b.input('w', [8, 8, 3, 3]);
  shapes.set(x, MAP);
  shapes.set(w, [8, 8, 3, 3]);
  const im2col = new Set<NodeProto>();
  const conv = (input: Value) => b.node('Conv', [input, w], {});
  const produced = conv(x);
  const relu = b.node('Relu', [produced]);
  for (const value of [produced, relu]) shapes.set(value, MAP);
  for (let i = 0; i < readers; i++) {
    shapes.set(conv(relu), MAP);
    im2col.add(b.nodeList.at(-1) as NodeProto);
  }
  if (pooled) shapes.set(b.node('MaxPool', [relu], {}), MAP);
  const rewriteOf = (node: NodeProto): RewriteKind | null => (im2col.has(node) ? 'im2col' : null);
  const result = planBatchLast(b, { shapes, batch: 4, batchInputs: [x], rewriteOf });
  return { batchLast: result.values.has(relu), relu };
}

describe('batch-last activations (training step layout)', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('goes batch-last only where the Transposes saved outweigh the conversions added', () => {
    // One conversion after ONNX Runtime's conv against one Transpose saved: no gain.
    assert.equal(plan(1, false).batchLast, false);
    assert.equal(plan(2, false).batchLast, true);
    // The MaxPool needs NCHW too: a second conversion against two saved.
    assert.equal(plan(2, true).batchLast, false);
    assert.equal(plan(3, true).batchLast, true);
  });

  it('leaves the step function unchanged: loss and every gradient as without it, fewer Transposes', async () => {
    const images = noise(4 * 32 * 32 * 3, 11);
    const labels = Int32Array.from([0, 3, 6, 9]);
    const runs = [];
    for (const batchLast of [false, true]) {
      const model = createModel('rla_resnet50', { ...smallTrainingOptions('rla_resnet50'), seed: 3 });
      const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
      const trainer = await OrtTrainer.create(model, optimizer, 32, 32, {
        optimizationLevel: 'basic',
        batchLast,
      });
      try {
        const out = await trainer.step(images, labels, 0, { gradients: true });
        const nodes = (await trainer.stepGraph(4, { gradients: true })).graph.nodes;
        const forwardGemms = (rewrite: string) =>
          nodes.filter(
            (node) => node.opType === 'Gemm' && !node.name.startsWith('grad') && node.name.includes(rewrite),
          );
        runs.push({
          out,
          transposes: nodes.filter((node) => node.opType === 'Transpose').length,
          // Batch-last products: whole-map ones transpose the kernel matrix, single-tap ones no operand.
          wholeMap: forwardGemms(':whole-map').filter((node) => node.attributes.transA).length,
          singleTap: forwardGemms(':gemm/').filter((node) => !node.attributes.transB).length,
        });
      } finally {
        await trainer.release();
        optimizer.dispose();
        model.dispose();
      }
    }
    const [reference, batchLast] = runs;
    // This model's stage 3 (1x1 maps) and its stride-2 entry run as products; they compute batch-last too.
    assert.deepEqual([reference.wholeMap, reference.singleTap], [0, 0]);
    assert.ok(
      batchLast.wholeMap > 0 && batchLast.singleTap > 0,
      `batch-last products: ${batchLast.wholeMap} whole-map, ${batchLast.singleTap} single-tap`,
    );
    assert.ok(
      batchLast.transposes < reference.transposes - 10,
      `Transposes: ${reference.transposes} -> ${batchLast.transposes}`,
    );
    assert.ok(Math.abs(batchLast.out.loss - reference.out.loss) <= 1e-5 * Math.abs(reference.out.loss));
    const gradients = reference.out.gradients as Map<string, Float32Array>;
    const largest = Math.max(...[...gradients.values()].map(maxAbs));
    for (const [key, expected] of gradients) {
      const actual = batchLast.out.gradients?.get(key) as Float32Array;
      assertClose(actual, expected, 1e-4 * maxAbs(expected) + 1e-6 * largest, key);
    }
  });
});
