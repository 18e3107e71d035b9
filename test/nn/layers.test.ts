import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { BatchNorm2d } from '../../src/nn/batchnorm.js';
import { Conv1d, Conv2d } from '../../src/nn/conv.js';
import { Rng } from '../../src/nn/init.js';
import { Linear } from '../../src/nn/linear.js';
import { liveTaps } from '../../src/nn/padding.js';
import { AvgPool2d, GlobalAvgPool2d, MaxPool2d } from '../../src/nn/pool.js';
import { fromTorchLayout, torchShapeOf, toTorchLayout } from '../../src/nn/tensor-layout.js';
import { assertClose, assertNoLeak } from '../helpers/tensors.js';

/** Direct PyTorch-semantics conv2d on NCHW data with an OIHW weight, in plain JS (the reference). */
function referenceConv2d(
  x: Float32Array,
  [n, c, h, w]: number[],
  weight: Float32Array,
  [o, cPerGroup, kh, kw]: number[],
  {
    stride,
    padding,
    dilation,
    groups,
  }: { stride: number; padding: number; dilation: number; groups: number },
): { data: Float32Array; shape: number[] } {
  const oh = Math.floor((h + 2 * padding - dilation * (kh - 1) - 1) / stride) + 1;
  const ow = Math.floor((w + 2 * padding - dilation * (kw - 1) - 1) / stride) + 1;
  const out = new Float32Array(n * o * oh * ow);
  const outPerGroup = o / groups;
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++) {
      const g = Math.floor(oc / outPerGroup);
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++) {
          let sum = 0;
          for (let ic = 0; ic < cPerGroup; ic++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = y * stride - padding + ky * dilation;
                const ix = xx * stride - padding + kx * dilation;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                const channel = g * cPerGroup + ic;
                sum +=
                  x[((b * c + channel) * h + iy) * w + ix] *
                  weight[((oc * cPerGroup + ic) * kh + ky) * kw + kx];
              }
          out[((b * o + oc) * oh + y) * ow + xx] = sum;
        }
    }
  return { data: out, shape: [n, o, oh, ow] };
}

function randomArray(rng: Rng, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => rng.normal());
}

describe('layers follow PyTorch semantics', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  const cases = [
    { c: 4, o: 6, k: 3, stride: 1, padding: 1, dilation: 1, groups: 1, h: 7, w: 6 },
    { c: 4, o: 8, k: 3, stride: 2, padding: 1, dilation: 1, groups: 1, h: 9, w: 8 },
    { c: 3, o: 5, k: 7, stride: 2, padding: 3, dilation: 1, groups: 1, h: 11, w: 13 },
    { c: 8, o: 8, k: 3, stride: 2, padding: 1, dilation: 1, groups: 4, h: 7, w: 7 },
    { c: 8, o: 16, k: 3, stride: 1, padding: 1, dilation: 1, groups: 2, h: 5, w: 6 },
    { c: 6, o: 6, k: 3, stride: 2, padding: 1, dilation: 1, groups: 6, h: 8, w: 9 },
    { c: 4, o: 8, k: 3, stride: 1, padding: 2, dilation: 2, groups: 4, h: 9, w: 9 },
    { c: 5, o: 3, k: 1, stride: 2, padding: 0, dilation: 1, groups: 1, h: 7, w: 5 },
    // Maps smaller than the kernel: taps that only read padding are cropped (liveTaps).
    { c: 4, o: 6, k: 3, stride: 1, padding: 1, dilation: 1, groups: 1, h: 1, w: 1 },
    { c: 4, o: 6, k: 3, stride: 2, padding: 1, dilation: 1, groups: 1, h: 2, w: 3 },
    { c: 3, o: 5, k: 7, stride: 2, padding: 3, dilation: 1, groups: 1, h: 2, w: 1 },
    { c: 8, o: 8, k: 3, stride: 1, padding: 1, dilation: 1, groups: 4, h: 1, w: 2 },
    { c: 6, o: 6, k: 3, stride: 2, padding: 1, dilation: 1, groups: 6, h: 1, w: 4 },
    // Convolutions computed as matrix products (conv-matmul.ts): a kernel covering the whole map, cropped or not.
    { c: 5, o: 4, k: 3, stride: 2, padding: 1, dilation: 1, groups: 1, h: 2, w: 2 },
    { c: 4, o: 3, k: 3, stride: 1, padding: 0, dilation: 1, groups: 1, h: 3, w: 3 },
    { c: 4, o: 3, k: 1, stride: 3, padding: 0, dilation: 1, groups: 1, h: 7, w: 6 },
  ];
  for (const spec of cases) {
    it(`Conv2d matches a direct convolution (${JSON.stringify(spec)})`, async () => {
      const rng = new Rng(7);
      const conv = new Conv2d(spec.c, spec.o, spec.k, rng, { ...spec, bias: true });
      const xShape = [2, spec.c, spec.h, spec.w];
      const x = randomArray(rng, 2 * spec.c * spec.h * spec.w);
      const torchWeight = toTorchLayout(conv.weight.value, conv.weight.layout);
      const expected = referenceConv2d(
        x,
        xShape,
        torchWeight.dataSync() as Float32Array,
        torchWeight.shape,
        spec,
      );
      const bias = conv.bias!.value.dataSync();
      const perMap = expected.shape[2] * expected.shape[3];
      for (let i = 0; i < expected.data.length; i++)
        expected.data[i] += bias[Math.floor(i / perMap) % spec.o];
      await assertNoLeak(() => {
        const nhwc = tf.tidy(() =>
          tf.transpose(tf.tensor4d(x, xShape as [number, number, number, number]), [0, 2, 3, 1]),
        );
        const y = conv.forward(nhwc as tf.Tensor4D);
        const nchw = tf.transpose(y, [0, 3, 1, 2]);
        assert.deepEqual(nchw.shape, expected.shape);
        assertClose(nchw.dataSync(), expected.data, 1e-4, 'conv output');
        tf.dispose([nhwc, y, nchw]);
      });
      torchWeight.dispose();
      conv.dispose();
    });
  }

  it('converts every layout to PyTorch and back exactly', () => {
    const rng = new Rng(3);
    for (const [shape, layout] of [
      [[3, 3, 8, 4], { kind: 'conv2d', groups: 2 }],
      [[3, 3, 8, 1], { kind: 'conv2d', groups: 8 }],
      [[1, 1, 8, 16], { kind: 'conv2d', groups: 1 }],
      [[5, 1, 1], { kind: 'conv1d' }],
      [[6, 4], { kind: 'linear' }],
    ] as const) {
      const dims: number[] = [...shape];
      const native = tf.tensor(
        randomArray(
          rng,
          dims.reduce((a, b) => a * b, 1),
        ),
        dims,
      );
      const torch = toTorchLayout(native, layout);
      assert.deepEqual(torch.shape, torchShapeOf(native.shape, layout));
      const back = fromTorchLayout(torch, layout);
      assert.deepEqual(Array.from(back.dataSync()), Array.from(native.dataSync()));
      tf.dispose([native, torch, back]);
    }
  });

  it('BatchNorm2d in training mode uses batch statistics and updates running stats like PyTorch', () => {
    const bn = new BatchNorm2d(2);
    // Channel 0 holds 1..8, channel 1 holds 2 * (1..8), over N=2, H=2, W=2.
    const values = Array.from({ length: 16 }, (_, i) => ((i % 2) + 1) * (Math.floor(i / 2) + 1));
    const x = tf.tensor4d(values, [2, 2, 2, 2]);
    const y = bn.forward(x);
    const mean0 = 4.5;
    const biasedVar0 = 5.25;
    const expectedFirst = (1 - mean0) / Math.sqrt(biasedVar0 + 1e-5);
    assert.ok(Math.abs(y.dataSync()[0] - expectedFirst) < 1e-5);
    // running_mean = 0.9 * 0 + 0.1 * mean ; running_var = 0.9 * 1 + 0.1 * unbiased (n = 8)
    assertClose(bn.runningMean.value.dataSync(), [0.45, 0.9], 1e-6, 'running_mean');
    assertClose(bn.runningVar.value.dataSync(), [0.9 + 0.1 * 6, 0.9 + 0.1 * 24], 1e-5, 'running_var');
    assert.equal(bn.numBatchesTracked.value.dataSync()[0], 1);
    bn.eval();
    const z = bn.forward(x);
    const expectedEval = (1 - 0.45) / Math.sqrt(1.5 + 1e-5);
    assert.ok(Math.abs(z.dataSync()[0] - expectedEval) < 1e-5);
    tf.dispose([x, y, z]);
    bn.dispose();
  });

  it('BatchNorm2d refuses one value per channel in training mode, as PyTorch does', () => {
    const bn = new BatchNorm2d(3);
    const x = tf.zeros([1, 1, 1, 3]) as tf.Tensor4D;
    assert.throws(() => bn.forward(x), /more than 1 value per channel/);
    x.dispose();
    bn.dispose();
  });

  it('MaxPool2d pads with -inf, AvgPool2d floors, global pool averages', () => {
    const x = tf.tensor4d([-1, -2, -3, -4, -5, -6, -7, -8, -9], [1, 3, 3, 1]);
    const max = new MaxPool2d(3, 2, 1).forward(x);
    // With zero padding every window would give 0; -inf padding keeps the real maxima.
    assert.deepEqual(Array.from(max.dataSync()), [-1, -2, -4, -5]);
    const avg = new AvgPool2d(2, 2).forward(x);
    assert.deepEqual(avg.shape, [1, 1, 1, 1]);
    assert.equal(avg.dataSync()[0], -3);
    const global = new GlobalAvgPool2d().forward(x);
    assert.equal(global.dataSync()[0], -5);
    tf.dispose([x, max, avg, global]);
  });

  it('Linear and Conv1d compute x W + b and a padded 1-D convolution', () => {
    const rng = new Rng(1);
    const linear = new Linear(3, 2, rng);
    linear.weight.set(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]));
    linear.bias!.set(tf.tensor1d([0.5, -0.5]));
    const out = linear.forward(tf.tensor2d([1, 1, 1], [1, 3]));
    assert.deepEqual(Array.from(out.dataSync()), [9.5, 11.5]);
    const conv = new Conv1d(1, 1, 3, rng, { padding: 1 });
    conv.weight.set(tf.tensor3d([1, 10, 100], [3, 1, 1]));
    const y = conv.forward(tf.tensor3d([1, 2, 3], [1, 3, 1]));
    assert.deepEqual(Array.from(y.dataSync()), [10 + 200, 1 + 20 + 300, 2 + 30]);
    tf.dispose([out, y]);
    linear.dispose();
    conv.dispose();
  });

  it('initialises convolutions with kaiming normal (fan_out) and reproducibly from a seed', () => {
    const a = new Conv2d(64, 128, 3, new Rng(5));
    const b = new Conv2d(64, 128, 3, new Rng(5));
    const values = a.weight.value.dataSync();
    assert.deepEqual(Array.from(values.slice(0, 8)), Array.from(b.weight.value.dataSync().slice(0, 8)));
    let sumSquares = 0;
    for (const v of values) sumSquares += v * v;
    const variance = sumSquares / values.length;
    const expected = 2 / (128 * 9);
    assert.ok(Math.abs(variance / expected - 1) < 0.03, `variance ${variance} vs ${expected}`);
    a.dispose();
    b.dispose();
  });
});

describe('Conv2d crops the taps that only read padding and multiplies matrices where it can', () => {
  it('finds the live taps of a padded window', () => {
    assert.deepEqual(liveTaps(1, 3, 1, 1), { first: 1, count: 1, padBefore: 0, padAfter: 0 });
    assert.deepEqual(liveTaps(2, 3, 2, 1), { first: 1, count: 2, padBefore: 0, padAfter: 0 });
    assert.deepEqual(liveTaps(2, 7, 2, 3), { first: 3, count: 2, padBefore: 0, padAfter: 0 });
    assert.deepEqual(liveTaps(4, 7, 2, 3), { first: 1, count: 6, padBefore: 2, padAfter: 2 });
    // Every tap reads input somewhere: nothing to crop.
    assert.deepEqual(liveTaps(2, 3, 1, 1), { first: 0, count: 3, padBefore: 1, padAfter: 1 });
    assert.deepEqual(liveTaps(32, 3, 2, 1), { first: 0, count: 3, padBefore: 1, padAfter: 1 });
    assert.deepEqual(liveTaps(5, 1, 1, 0), { first: 0, count: 1, padBefore: 0, padAfter: 0 });
    // Dilated windows are left whole (undilated, this one would be cropped to its centre tap).
    assert.deepEqual(liveTaps(1, 3, 1, 1, 2), { first: 0, count: 3, padBefore: 1, padAfter: 1 });
  });

  // The cropped and matrix-product forms must give the full kernel's gradients: zeros for cropped taps, the same values
  // elsewhere, and the same input gradient, on the reference backend and on wasm's own gradient kernels.
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const spec of [
      { c: 5, o: 4, k: 3, stride: 1, padding: 1, groups: 1, h: 1, w: 1 },
      { c: 5, o: 4, k: 3, stride: 2, padding: 1, groups: 1, h: 2, w: 3 },
      { c: 6, o: 6, k: 3, stride: 1, padding: 1, groups: 6, h: 1, w: 3 },
      { c: 3, o: 4, k: 7, stride: 2, padding: 3, groups: 1, h: 2, w: 2 },
      { c: 5, o: 4, k: 1, stride: 2, padding: 0, groups: 1, h: 5, w: 4 },
      { c: 5, o: 4, k: 3, stride: 2, padding: 1, groups: 1, h: 2, w: 2 },
      { c: 4, o: 3, k: 3, stride: 1, padding: 0, groups: 1, h: 3, w: 3 },
    ]) {
      it(`gives the full kernel's gradients on ${backend} (${JSON.stringify(spec)})`, async () => {
        await initBackend({ backend });
        const rng = new Rng(11);
        const conv = new Conv2d(spec.c, spec.o, spec.k, rng, spec);
        const x = tf.tensor4d(randomArray(rng, 3 * spec.h * spec.w * spec.c), [3, spec.h, spec.w, spec.c]);
        const p = spec.padding;
        const pad: tf.backend_util.ExplicitPadding = [
          [0, 0],
          [p, p],
          [p, p],
          [0, 0],
        ];
        const full = (input: tf.Tensor4D, weight: tf.Tensor4D) =>
          spec.groups === 1
            ? tf.conv2d(input, weight, spec.stride, pad)
            : tf.depthwiseConv2d(input, weight, spec.stride, pad);
        const weight = conv.weight.value as tf.Tensor4D;
        await assertNoLeak(() => {
          const [dxRef, dwRef] = tf.grads((input: tf.Tensor, w: tf.Tensor) =>
            tf.sum(tf.square(full(input as tf.Tensor4D, w as tf.Tensor4D))),
          )([x, weight]);
          const loss = (input: tf.Tensor) =>
            tf.sum(tf.square(conv.forward(input as tf.Tensor4D))) as tf.Scalar;
          const dx = tf.grad(loss)(x);
          const { value, grads } = tf.variableGrads(() => loss(x), [conv.weight.variable]);
          const dw = grads[conv.weight.variable.name];
          value.dispose();
          assert.deepEqual(dw.shape, dwRef.shape);
          assertClose(dx.dataSync(), dxRef.dataSync(), 1e-5, 'input gradient');
          assertClose(dw.dataSync(), dwRef.dataSync(), 1e-5, 'weight gradient');
          tf.dispose([dxRef, dwRef, dx, dw]);
        });
        tf.dispose(x);
        conv.dispose();
      });
    }
  }
});
