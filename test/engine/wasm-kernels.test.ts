/**
 * rla-net's wasm versions of shipped kernels (Slice, SplitV, StridedSlice, Concat, Sum, Mean, BatchMatMul, Identity,
 * Cast, MaxPoolGrad, FusedBatchNorm) give the cpu backend's results, and leave the wasm heap intact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { orientationCosts } from '../../src/engine/kernels/batch-matmul.js';
import { Rng } from '../../src/nn/init.js';
import { assertClose, maxAbs } from '../helpers/tensors.js';
import { pick, randomData, randomInt, valuesOn } from './_kernels.js';

/** Runs `fn` on both backends and asserts equal results within `relative * max|cpu|`. */
async function sameOnBoth(what: string, fn: () => tf.Tensor, relative = 1e-6): Promise<void> {
  const cpu = await valuesOn('cpu', fn);
  const wasm = await valuesOn('wasm', fn);
  assertClose(wasm, cpu, relative * Math.max(1, maxAbs(cpu)), what);
}

function randomShape(rng: Rng, rank: number, max = 6): number[] {
  return Array.from({ length: rank }, () => randomInt(rng, 1, max));
}

describe('wasm kernels rewritten by rla-net', () => {
  it('Slice, SplitV and StridedSlice cut the same elements', async () => {
    const rng = new Rng(1);
    for (let i = 0; i < 30; i++) {
      const shape = randomShape(rng, randomInt(rng, 1, 5));
      const data = randomData(rng, tf.util.sizeFromShape(shape));
      const begin = shape.map((d) => randomInt(rng, 0, d - 1));
      const size = shape.map((d, a) => randomInt(rng, 1, d - begin[a]));
      const strides = shape.map(() => pick(rng, [1, 1, 2]));
      const axis = randomInt(rng, 0, shape.length - 1);
      const what = `shape [${shape}] begin [${begin}] size [${size}] strides [${strides}]`;
      await sameOnBoth(`slice ${what}`, () => tf.slice(tf.tensor(data, shape), begin, size));
      await sameOnBoth(`stridedSlice ${what}`, () =>
        tf.stridedSlice(
          tf.tensor(data, shape),
          begin,
          begin.map((b, a) => b + size[a]),
          strides,
        ),
      );
      const first = randomInt(rng, 0, shape[axis]);
      await sameOnBoth(`split axis ${axis} of ${what}`, () => {
        return tf.concat(
          tf
            .split(tf.tensor(data, shape), [first, shape[axis] - first], axis)
            .map((t) => tf.reverse(t, axis)),
          axis,
        );
      });
    }
  });

  it('Concat joins three parts along any axis, for float32, int32 and bool, with empty parts', async () => {
    const rng = new Rng(2);
    for (let i = 0; i < 30; i++) {
      const rank = randomInt(rng, 1, 4);
      const axis = randomInt(rng, 0, rank - 1);
      const base = randomShape(rng, rank);
      const widths = [randomInt(rng, 0, 5), randomInt(rng, 1, 5), randomInt(rng, 0, 5)];
      const dtype = pick(rng, ['float32', 'int32', 'bool'] as const);
      const parts = widths.map((width) => {
        const shape = base.map((d, a) => (a === axis ? width : d));
        const values = randomData(rng, tf.util.sizeFromShape(shape)).map((v) =>
          dtype === 'float32' ? v : dtype === 'int32' ? Math.round(v * 100) : v > 0 ? 1 : 0,
        );
        return { shape, values };
      });
      await sameOnBoth(`concat ${dtype} axis ${axis} of widths [${widths}] in [${base}]`, () =>
        tf.cast(
          tf.concat(
            parts.map((p) => tf.tensor(p.values, p.shape, dtype)),
            axis,
          ),
          'float32',
        ),
      );
    }
  });

  it('Sum and Mean over any axes, including wide inner blocks split into pooling columns', async () => {
    const rng = new Rng(2);
    const shapes = [
      [16, 9, 9, 64],
      [2, 2, 2, 1024, 32],
      [3, 4, 5, 2100],
      [40, 7, 300],
    ];
    for (const shape of shapes) {
      const data = randomData(rng, tf.util.sizeFromShape(shape));
      for (let i = 0; i < 5; i++) {
        const first = randomInt(rng, 0, shape.length - 1);
        const last = randomInt(rng, first, shape.length - 1);
        const axes = Array.from({ length: last - first + 1 }, (_, k) => first + k);
        const keepDims = rng.uniform() < 0.5;
        const what = `shape [${shape}] axes [${axes}] keepDims ${keepDims}`;
        // float32 sums of up to 1e5 terms, accumulated in different orders.
        await sameOnBoth(`sum ${what}`, () => tf.sum(tf.tensor(data, shape), axes, keepDims), 1e-4);
        await sameOnBoth(`mean ${what}`, () => tf.mean(tf.tensor(data, shape), axes, keepDims), 1e-4);
      }
    }
    // The heap must be intact afterwards (XNNPACK pooling corrupted it beyond 8192 channels).
    await valuesOn('wasm', () => tf.tidy(() => tf.sum(tf.add(tf.ones([4096, 1024]), 1))));
  });

  it('BatchMatMul with transposes and batches', async () => {
    const rng = new Rng(3);
    for (const [batchA, batchB, m, k, n] of [
      [1, 1, 70, 300, 90],
      [3, 3, 40, 50, 60],
      [4, 1, 33, 65, 17],
      [1, 1, 2, 3, 4],
      // Few rows against a wide right operand: computed as (B^T A^T)^T (batch-matmul.ts, orientationCosts).
      [1, 1, 8, 512, 600],
    ]) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          const aShape =
            batchA === 1 ? (transposeA ? [k, m] : [m, k]) : transposeA ? [batchA, k, m] : [batchA, m, k];
          const bShape =
            batchB === 1 ? (transposeB ? [n, k] : [k, n]) : transposeB ? [batchB, n, k] : [batchB, k, n];
          if (batchA !== batchB && (aShape.length !== 3 || bShape.length !== 2)) continue;
          const a = randomData(rng, tf.util.sizeFromShape(aShape));
          const b = randomData(rng, tf.util.sizeFromShape(bShape));
          await sameOnBoth(
            `matMul [${aShape}]${transposeA ? 'T' : ''} . [${bShape}]${transposeB ? 'T' : ''}`,
            () => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transposeA, transposeB),
            1e-5,
          );
        }
      }
    }
  });

  it('BatchMatMul turns products with few rows around, and only those', () => {
    assert.ok(
      orientationCosts(64, 512, 2048, false, false).swapped <
        0.7 * orientationCosts(64, 512, 2048, false, false).direct,
    );
    assert.ok(
      orientationCosts(64, 2048, 512, false, true).swapped <
        0.7 * orientationCosts(64, 2048, 512, false, true).direct,
    );
    const big = orientationCosts(25088, 64, 256, false, false);
    assert.ok(
      big.swapped > big.direct,
      `a 25088-row product stays as it is (${big.swapped} vs ${big.direct} ns)`,
    );
  });

  it('Identity and same-type Cast share the buffer safely', async () => {
    await valuesOn('wasm', () => tf.zeros([1]));
    const x = tf.tensor([1, 2, 3]);
    const copy = tf.clone(x);
    const cast = tf.cast(x, 'float32');
    x.dispose();
    assert.deepEqual(Array.from(await copy.data()), [1, 2, 3]);
    assert.deepEqual(Array.from(await cast.data()), [1, 2, 3]);
    const ints = tf.cast(cast, 'int32');
    assert.equal(ints.dtype, 'int32');
    tf.dispose([copy, cast, ints]);
  });

  it('MaxPoolGrad routes each window to its maximum, after a ReLU and with negative windows', async () => {
    const rng = new Rng(4);
    const shape: [number, number, number, number] = [2, 17, 15, 5];
    const data = randomData(rng, tf.util.sizeFromShape(shape));
    for (const relu of [true, false]) {
      for (const [size, stride, pad] of [
        [3, 2, 'valid'],
        [2, 2, 'valid'],
        [3, 1, 'same'],
        [3, 2, 1],
      ] as const) {
        await sameOnBoth(`maxPool grad ${size}/${stride}/${pad}${relu ? ' after relu' : ''}`, () =>
          tf.grad((x: tf.Tensor) => {
            // Distinct positive values after the ReLU: ties at zero are routed differently but die in the ReLU.
            const input = relu ? tf.relu(x) : x;
            const pooled = tf.maxPool(input as tf.Tensor4D, size, stride, pad);
            return tf.sum(tf.mul(pooled, pooled));
          })(tf.tensor4d(data, shape)),
        );
      }
    }
  });

  it('AvgPoolGrad (shipped, used by the RLA hidden-state pooling) agrees', async () => {
    const rng = new Rng(6);
    const data = randomData(rng, 2 * 9 * 8 * 7);
    await sameOnBoth('avgPool grad', () =>
      tf.grad((x: tf.Tensor) => tf.sum(tf.square(tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid'))))(
        tf.tensor4d(data, [2, 9, 8, 7]),
      ),
    );
  });

  it('FusedBatchNorm (inference) as one multiply-add', async () => {
    const rng = new Rng(5);
    const x = randomData(rng, 2 * 5 * 5 * 12);
    const stats = [
      randomData(rng, 12),
      randomData(rng, 12).map((v) => v + 1.5),
      randomData(rng, 12),
      randomData(rng, 12),
    ];
    await sameOnBoth(
      'batchNorm',
      () => tf.batchNorm(tf.tensor4d(x, [2, 5, 5, 12]), stats[0], stats[1], stats[2], stats[3], 1e-5),
      1e-5,
    );
  });
});
