/**
 * The convolution gradient kernels on random shapes: strides 1 and 2, 1x1 to 7x7 filters (also non-square),
 * odd sizes, valid / same / explicit padding, channel multipliers and dilations for depthwise convolutions.
 * Input gradients are compared with float64 loops and the cpu backend's own tfjs kernels; filter gradients
 * (rla-net's on both backends) with float64 loops.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/nn/init.js';
import { maxAbs, maxAbsDiff } from '../helpers/tensors.js';
import {
  type ConvCase,
  caseGeometry,
  explicitPad,
  pick,
  randomData,
  randomInt,
  referenceFilterGradient,
  referenceInputGradient,
  runKernel,
  valuesOn,
} from './_kernels.js';

function randomCase(rng: Rng, depthwise: boolean): ConvCase {
  while (true) {
    const kh = pick(rng, depthwise ? [1, 3, 5] : [1, 3, 5, 7]);
    const kw = rng.uniform() < 0.7 ? kh : pick(rng, [1, 3, 7]);
    const stride = pick(rng, [1, 2]);
    const strides: [number, number] = [stride, rng.uniform() < 0.8 ? stride : 1];
    const dilation = depthwise && stride === 1 && strides[1] === 1 ? pick(rng, [1, 1, 2]) : 1;
    const padKind = pick(rng, ['valid', 'same', 'explicit'] as const);
    const pad =
      padKind === 'explicit'
        ? explicitPad(
            randomInt(rng, 0, kh - 1),
            randomInt(rng, 0, kh - 1),
            randomInt(rng, 0, kw - 1),
            randomInt(rng, 0, kw - 1),
          )
        : padKind;
    const channels = pick(rng, [1, 2, 3, 5, 8]);
    const outer = depthwise ? pick(rng, [1, 2, 3]) : pick(rng, [1, 2, 4, 7]);
    const c: ConvCase = {
      xShape: [randomInt(rng, 1, 3), randomInt(rng, 1, 11), randomInt(rng, 1, 11), channels],
      filterShape: [kh, kw, channels, outer],
      strides,
      dilations: [dilation, dilation],
      pad,
      depthwise,
    };
    const info = caseGeometry(c);
    if (info.outHeight >= 1 && info.outWidth >= 1) return c;
  }
}

/** Cases large enough to take the alias-free transpose and chunked paths, shaped like ResNet layers. */
const LAYER_CASES: ConvCase[] = [
  {
    xShape: [4, 16, 16, 64],
    filterShape: [3, 3, 64, 32],
    strides: [1, 1],
    dilations: [1, 1],
    pad: 'same',
    depthwise: false,
  },
  {
    xShape: [4, 16, 16, 96],
    filterShape: [1, 1, 96, 64],
    strides: [1, 1],
    dilations: [1, 1],
    pad: 'valid',
    depthwise: false,
  },
  {
    xShape: [4, 16, 16, 64],
    filterShape: [1, 1, 64, 128],
    strides: [2, 2],
    dilations: [1, 1],
    pad: 'valid',
    depthwise: false,
  },
  {
    xShape: [2, 15, 15, 32],
    filterShape: [3, 3, 32, 48],
    strides: [2, 2],
    dilations: [1, 1],
    pad: explicitPad(1, 1, 1, 1),
    depthwise: false,
  },
  {
    xShape: [2, 32, 32, 3],
    filterShape: [7, 7, 3, 16],
    strides: [2, 2],
    dilations: [1, 1],
    pad: explicitPad(3, 3, 3, 3),
    depthwise: false,
  },
  {
    xShape: [2, 2, 2, 64],
    filterShape: [3, 3, 64, 64],
    strides: [2, 2],
    dilations: [1, 1],
    pad: explicitPad(1, 1, 1, 1),
    depthwise: false,
  },
  {
    xShape: [2, 16, 16, 96],
    filterShape: [3, 3, 96, 1],
    strides: [2, 2],
    dilations: [1, 1],
    pad: explicitPad(1, 1, 1, 1),
    depthwise: true,
  },
  {
    xShape: [2, 8, 8, 128],
    filterShape: [3, 3, 128, 4],
    strides: [1, 1],
    dilations: [1, 1],
    pad: explicitPad(1, 1, 1, 1),
    depthwise: true,
  },
];

interface CaseData {
  x: Float32Array;
  filter: Float32Array;
  dy: Float32Array;
  outShape: [number, number, number, number];
}

function caseData(rng: Rng, c: ConvCase): CaseData {
  const info = caseGeometry(c);
  const outShape: [number, number, number, number] = [
    c.xShape[0],
    info.outHeight,
    info.outWidth,
    info.outChannels,
  ];
  return {
    x: randomData(rng, tf.util.sizeFromShape(c.xShape)),
    filter: randomData(rng, tf.util.sizeFromShape(c.filterShape)),
    dy: randomData(rng, tf.util.sizeFromShape(outShape)),
    outShape,
  };
}

function describeCase(c: ConvCase): string {
  const pad = typeof c.pad === 'string' ? c.pad : JSON.stringify(c.pad.slice(1, 3));
  return `x [${c.xShape}] filter [${c.filterShape}] strides ${c.strides} dilations ${c.dilations} pad ${pad}`;
}

function inputGradientKernel(c: ConvCase, d: CaseData): tf.Tensor {
  const dy = tf.tensor4d(d.dy, d.outShape);
  const filter = tf.tensor4d(d.filter, c.filterShape);
  const common = { inputShape: c.xShape, strides: c.strides, pad: c.pad, dimRoundingMode: undefined };
  return c.depthwise
    ? runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...common, dilations: c.dilations })
    : runKernel('Conv2DBackpropInput', { dy, filter }, { ...common, dataFormat: 'NHWC' });
}

function filterGradientKernel(c: ConvCase, d: CaseData): tf.Tensor {
  const x = tf.tensor4d(d.x, c.xShape);
  const dy = tf.tensor4d(d.dy, d.outShape);
  const common = { filterShape: c.filterShape, strides: c.strides, pad: c.pad, dimRoundingMode: undefined };
  return c.depthwise
    ? runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...common, dilations: c.dilations })
    : runKernel('Conv2DBackpropFilter', { x, dy }, { ...common, dataFormat: 'NHWC' });
}

function assertNear(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): number {
  const scale = Math.max(1, maxAbs(expected));
  const diff = maxAbsDiff(actual, expected);
  assert.ok(
    diff <= 1e-4 * scale,
    `${what}: max abs diff ${diff.toExponential(2)} > 1e-4 * ${scale.toFixed(2)}`,
  );
  return diff / scale;
}

/** wasm's input gradient against float64 loops and, without dilation (tfjs never differentiates dilated depthwise
 * convolutions, and its cpu kernel ignores dilation), against tfjs's cpu kernel. */
async function checkInputGradient(c: ConvCase, d: CaseData): Promise<number> {
  const actual = await valuesOn('wasm', () => inputGradientKernel(c, d));
  const worst = assertNear(
    actual,
    referenceInputGradient(c, d.filter, d.dy),
    `input gradient, ${describeCase(c)}`,
  );
  if (c.dilations[0] !== 1 || c.dilations[1] !== 1) return worst;
  const cpu = await valuesOn('cpu', () => inputGradientKernel(c, d));
  return Math.max(worst, assertNear(actual, cpu, `input gradient vs cpu kernel, ${describeCase(c)}`));
}

async function checkFilterGradient(c: ConvCase, d: CaseData): Promise<number> {
  const reference = referenceFilterGradient(c, d.x, d.dy);
  let worst = 0;
  for (const backend of ['cpu', 'wasm'] as const) {
    const actual = await valuesOn(backend, () => filterGradientKernel(c, d));
    worst = Math.max(worst, assertNear(actual, reference, `${backend} filter gradient, ${describeCase(c)}`));
  }
  return worst;
}

describe('convolution gradient kernels', () => {
  for (const depthwise of [false, true]) {
    const kind = depthwise ? 'depthwise conv' : 'conv2d';
    it(`${kind}: the wasm input gradient matches float64 loops and tfjs's cpu kernel on 40 random shapes`, async (t) => {
      const rng = new Rng(depthwise ? 11 : 10);
      let worst = 0;
      for (let i = 0; i < 40; i++) {
        const c = randomCase(rng, depthwise);
        worst = Math.max(worst, await checkInputGradient(c, caseData(rng, c)));
      }
      t.diagnostic(`worst max|diff| / max(1, max|ref|): ${worst.toExponential(1)}`);
    });

    it(`${kind}: the filter gradient (wasm and cpu) matches float64 loops on 40 random shapes`, async (t) => {
      const rng = new Rng(depthwise ? 21 : 20);
      let worst = 0;
      for (let i = 0; i < 40; i++) {
        const c = randomCase(rng, depthwise);
        worst = Math.max(worst, await checkFilterGradient(c, caseData(rng, c)));
      }
      t.diagnostic(`worst max|diff| / max(1, max|ref|): ${worst.toExponential(1)}`);
    });
  }

  it('matches on ResNet- and MobileNet-shaped layers (the large-tensor paths)', async (t) => {
    const rng = new Rng(30);
    let worst = 0;
    for (const c of LAYER_CASES) {
      const d = caseData(rng, c);
      worst = Math.max(worst, await checkInputGradient(c, d), await checkFilterGradient(c, d));
    }
    t.diagnostic(`worst max|diff| / max(1, max|ref|): ${worst.toExponential(1)}`);
  });

  it('leaks no tensors (outputs aside, every kernel frees what it made)', async () => {
    const rng = new Rng(40);
    await valuesOn('wasm', () => tf.zeros([1]));
    for (const c of [LAYER_CASES[3], LAYER_CASES[1], LAYER_CASES[6]]) {
      const d = caseData(rng, c);
      const x = tf.tensor4d(d.x, c.xShape);
      const filter = tf.tensor4d(d.filter, c.filterShape);
      const dy = tf.tensor4d(d.dy, d.outShape);
      const before = tf.memory().numTensors;
      const common = { strides: c.strides, pad: c.pad, dilations: c.dilations, dataFormat: 'NHWC' };
      const names = c.depthwise
        ? ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter']
        : ['Conv2DBackpropInput', 'Conv2DBackpropFilter'];
      runKernel(names[0], { dy, filter }, { ...common, inputShape: c.xShape }).dispose();
      runKernel(names[1], { x, dy }, { ...common, filterShape: c.filterShape }).dispose();
      assert.equal(tf.memory().numTensors, before, describeCase(c));
      tf.dispose([x, filter, dy]);
    }
  });
});
