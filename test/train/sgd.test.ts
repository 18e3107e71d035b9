import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { Parameter } from '../../src/nn/module.js';
import { SGD, type SGDOptions } from '../../src/train/sgd.js';
import { assertNoLeak } from '../helpers/tensors.js';

/**
 * torch.optim.SGD, written out for one scalar parameter (the algorithm in PyTorch's documentation):
 *   g = grad + wd * p; buf = g (first step) else momentum * buf + (1 - dampening) * g;
 *   g = g + momentum * buf (nesterov) else buf; p = p - lr * g
 */
function torchSgd(p0: number, grads: number[], o: Required<SGDOptions>): number[] {
  let p = p0;
  let buf: number | null = null;
  const values: number[] = [];
  for (const grad of grads) {
    let g = grad + o.weightDecay * p;
    if (o.momentum !== 0) {
      buf = buf === null ? g : o.momentum * buf + (1 - o.dampening) * g;
      g = o.nesterov ? g + o.momentum * buf : buf;
    }
    p = p - o.lr * g;
    values.push(p);
  }
  return values;
}

function run(p0: number[], grads: number[][], options: SGDOptions): number[][] {
  const parameter = new Parameter(tf.tensor1d(p0));
  const optimizer = new SGD([parameter], options);
  const values: number[][] = [];
  for (const g of grads) {
    const grad = tf.tensor1d(g);
    optimizer.step(new Map([[parameter, grad]]));
    grad.dispose();
    values.push(Array.from(parameter.variable.dataSync()));
  }
  optimizer.dispose();
  parameter.variable.dispose();
  return values;
}

const GRADS = [
  [0.5, -1],
  [0.25, 2],
  [-1, 0.5],
];
const P0 = [1, -2];

describe('SGD with PyTorch semantics', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  const cases: Array<[string, Required<SGDOptions>]> = [
    ['plain', { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }],
    [
      'momentum 0.9 + weight decay 1e-4 (ImageNet recipe)',
      { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: false },
    ],
    [
      'Nesterov 0.9 + weight decay 1e-4 (CIFAR recipe)',
      { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true },
    ],
    [
      'momentum 0.9, dampening 0.1, weight decay 0.05',
      { lr: 0.045, momentum: 0.9, dampening: 0.1, weightDecay: 0.05, nesterov: false },
    ],
  ];
  for (const [name, options] of cases) {
    it(`${name}: three steps match the hand-computed updates`, async () => {
      const actual = await assertNoLeak(() => run(P0, GRADS, options), 'SGD');
      const expected = GRADS.map((_, step) =>
        P0.map(
          (p, i) =>
            torchSgd(
              p,
              GRADS.map((g) => g[i]),
              options,
            )[step],
        ),
      );
      for (const [step, row] of actual.entries()) {
        for (const [i, v] of row.entries()) {
          assert.ok(
            Math.abs(v - expected[step][i]) < 1e-6,
            `step ${step} [${i}]: ${v} vs ${expected[step][i]}`,
          );
        }
      }
    });
  }

  it('concrete Nesterov numbers: p=1, g=0.5 then 0.25, lr 0.1, momentum 0.9, wd 1e-4', () => {
    // step 1: g = 0.5 + 1e-4 = 0.5001; buf = 0.5001; g += 0.9 * 0.5001 -> 0.95019; p = 1 - 0.095019 = 0.904981
    // step 2: g = 0.25 + 1e-4 * 0.904981 = 0.2500904981; buf = 0.9 * 0.5001 + g = 0.7001804981;
    //         g += 0.9 * buf -> 0.88025294639; p = 0.904981 - 0.088025294639 = 0.816955705361
    const [first, second] = run([1], [[0.5], [0.25]], {
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 1e-4,
      nesterov: true,
    });
    assert.ok(Math.abs(first[0] - 0.904981) < 1e-6);
    assert.ok(Math.abs(second[0] - 0.816955705361) < 1e-6);
  });

  it('momentum buffers round-trip (checkpoints) and the first step copies the gradient', () => {
    const parameter = new Parameter(tf.tensor1d([1, 2]));
    const optimizer = new SGD([parameter], { lr: 0.1, momentum: 0.9 });
    assert.deepEqual(optimizer.momentumBuffers(), [null]);
    const grad = tf.tensor1d([0.5, -0.5]);
    optimizer.step(new Map([[parameter, grad]]));
    assert.deepEqual(Array.from(optimizer.momentumBuffers()[0]!.dataSync()), [0.5, -0.5]);
    const copy = new SGD([parameter], { lr: 0.1, momentum: 0.9 });
    copy.loadMomentumBuffers(optimizer.momentumBuffers());
    assert.deepEqual(Array.from(copy.momentumBuffers()[0]!.dataSync()), [0.5, -0.5]);
    assert.throws(() => new SGD([parameter], { lr: 0.1, nesterov: true }), /Nesterov/);
    tf.dispose([grad, parameter.variable]);
    optimizer.dispose();
    copy.dispose();
  });

  it('loading momentum buffers (every ORT pull does) and disposing leaves no tensor behind', async () => {
    const parameters = [new Parameter(tf.tensor1d([1, 2])), new Parameter(tf.tensor2d([[3]]))];
    const loaded = [tf.tensor1d([0.5, -0.5]), tf.tensor2d([[0.25]])];
    await assertNoLeak(() => {
      const optimizer = new SGD(parameters, { lr: 0.1, momentum: 0.9 });
      optimizer.loadMomentumBuffers(loaded);
      optimizer.loadMomentumBuffers(loaded);
      assert.deepEqual(Array.from(optimizer.momentumBuffers()[1]!.dataSync()), [0.25]);
      optimizer.dispose();
    }, 'SGD with loaded momentum buffers');
    tf.dispose([...loaded, ...parameters.map((p) => p.variable)]);
  });
});
