/**
 * Each gradient rule of the ONNX differentiator against central finite differences computed by ONNX Runtime on
 * the same graph: loss = sum(f(inputs) * r) for a fixed random r; analytic d(loss)/d(input) from the derived
 * backward graph; d(loss)/d(x_i) ~ (loss(x_i + e) - loss(x_i - e)) / 2e on sampled elements. Inputs keep away from
 * the kinks of ReLU/Clip and from ties of MaxPool, so the function is smooth within e.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as ort from 'onnxruntime-node';
import { differentiate } from '../../src/onnx/autodiff/differentiate.js';
import { int, ints, OnnxBuilder, type Value } from '../../src/onnx/builder.js';
import { loadOnnxRuntime } from '../../src/onnx/session.js';
import { probeShapes } from '../../src/onnx/training/shape-probe.js';
import { reduceMean, reduceSum } from '../../src/onnx/training-layers.js';
import { encodeTestGraph, noise, numel, weightedLoss } from './_weighted-loss.js';

interface InputSpec {
  dims: number[];
  /** Values away from 0 (|v| in [0.2, 1.2]) unless given. */
  values?: Float32Array;
}

/** Values whose magnitudes are in [0.2, 1.2] with mixed signs, all distinct. */
function awayFromZero(count: number, seed: number): Float32Array {
  return noise(count, seed).map((v, i) => (v >= 0 ? 0.2 + v : -0.2 + v) + i * 1e-4);
}

/**
 * Builds `f` on fresh inputs, differentiates sum(f * r) with respect to the inputs named in `wrt` (default all)
 * and compares with finite differences at up to `samples` elements per input.
 */
async function checkGradient(
  inputs: Record<string, InputSpec>,
  f: (b: OnnxBuilder, x: Record<string, Value>) => Value,
  options: { wrt?: string[]; samples?: number; epsilon?: number; tolerance?: number } = {},
): Promise<number> {
  const runtime = await loadOnnxRuntime();
  const b = new OnnxBuilder({ opset: 17, foldBatchNorm: false });
  const values: Record<string, Value> = {};
  const data: Record<string, Float32Array> = {};
  Object.entries(inputs).forEach(([name, spec], i) => {
    values[name] = b.input(name, spec.dims);
    data[name] = spec.values ?? awayFromZero(numel(spec.dims), 17 + i);
  });
  const y = f(b, values);
  const tensor = (values: Float32Array, dims: number[]) => new runtime.Tensor('float32', values, dims);
  const feeds = (overrides: Record<string, Float32Array> = {}): Record<string, ort.Tensor> =>
    Object.fromEntries(
      Object.entries(inputs).map(([name, spec]) => [name, tensor(overrides[name] ?? data[name], spec.dims)]),
    );
  const shapes = await probeShapes(runtime, b, { batch: 1, batchInputs: [], feeds: () => feeds() });
  const yShape = shapes.get(y);
  assert.ok(yShape, 'shape of the output');
  const r = b.input('r', yShape);
  const rValues = noise(numel(yShape), 5);
  shapes.set(r, yShape);
  const loss = weightedLoss(b, shapes, y, r, yShape);
  const wrt = options.wrt ?? Object.keys(inputs);
  const gradients = differentiate(
    b,
    loss,
    wrt.map((name) => values[name]),
    (value) => {
      const shape = shapes.get(value);
      if (!shape) throw new Error(`no shape for ${value}`);
      return shape;
    },
  );
  b.output(loss, 'loss', []);
  for (const name of wrt) {
    const g = gradients.get(values[name]);
    assert.ok(g, `a gradient for ${name}`);
    b.output(g, `grad_${name}`, inputs[name].dims);
  }
  const model = encodeTestGraph(b, 'gradient_check');
  const session = await runtime.InferenceSession.create(model, { graphOptimizationLevel: 'all' });
  try {
    const run = async (overrides: Record<string, Float32Array> = {}) =>
      session.run({ ...feeds(overrides), r: tensor(rValues, yShape) });
    const analytic = await run();
    const epsilon = options.epsilon ?? 1e-2;
    let worst = 0;
    for (const name of wrt) {
      const grad = analytic[`grad_${name}`].data as Float32Array;
      const scale = Math.max(...Array.from(grad, Math.abs), 1e-3);
      const count = grad.length;
      const samples = Math.min(count, options.samples ?? 12);
      for (let s = 0; s < samples; s++) {
        const index = Math.floor((s * count) / samples);
        const plus = Float32Array.from(data[name]);
        const minus = Float32Array.from(data[name]);
        plus[index] += epsilon;
        minus[index] -= epsilon;
        const lossPlus = ((await run({ [name]: plus })).loss.data as Float32Array)[0];
        const lossMinus = ((await run({ [name]: minus })).loss.data as Float32Array)[0];
        const numeric = (lossPlus - lossMinus) / (2 * epsilon);
        const error = Math.abs(numeric - grad[index]) / scale;
        worst = Math.max(worst, error);
        assert.ok(
          error <= (options.tolerance ?? 1e-2),
          `d loss / d ${name}[${index}]: analytic ${grad[index]}, numeric ${numeric} (max|g| ${scale})`,
        );
      }
    }
    return worst;
  } finally {
    await session.release();
  }
}

describe('gradient rules against finite differences (ONNX Runtime)', () => {
  const conv =
    (attributes: Record<string, ReturnType<typeof ints>>, withBias = true) =>
    (b: OnnxBuilder, x: Record<string, Value>) =>
      b.node('Conv', withBias ? [x.x, x.w, x.bias] : [x.x, x.w], attributes);

  it('Conv 3x3, stride 1, padding 1, with bias', async () => {
    await checkGradient(
      { x: { dims: [2, 3, 5, 5] }, w: { dims: [4, 3, 3, 3] }, bias: { dims: [4] } },
      conv({ kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) }),
    );
  });

  it('Conv 3x3, stride 2 on an odd size (output padding), no bias', async () => {
    await checkGradient(
      { x: { dims: [2, 3, 7, 7] }, w: { dims: [4, 3, 3, 3] } },
      conv({ kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) }, false),
    );
  });

  it('Conv 1x1 stride 2 (downsample), 7x7 stride 2 pad 3 (stem), dilation 2', async () => {
    await checkGradient(
      { x: { dims: [2, 4, 6, 6] }, w: { dims: [3, 4, 1, 1] } },
      conv({ kernel_shape: ints([1, 1]), strides: ints([2, 2]) }, false),
    );
    await checkGradient(
      { x: { dims: [1, 3, 9, 9] }, w: { dims: [2, 3, 7, 7] } },
      conv({ kernel_shape: ints([7, 7]), strides: ints([2, 2]), pads: ints([3, 3, 3, 3]) }, false),
      { samples: 8 },
    );
    await checkGradient(
      { x: { dims: [1, 2, 7, 7] }, w: { dims: [2, 2, 3, 3] } },
      conv({ kernel_shape: ints([3, 3]), dilations: ints([2, 2]), pads: ints([2, 2, 2, 2]) }, false),
    );
  });

  it('grouped and depthwise Conv (ResNeXt, MobileNet; stride 1 and 2, channel multiplier), 1-D Conv (ECA)', async () => {
    await checkGradient(
      { x: { dims: [2, 4, 5, 5] }, w: { dims: [6, 2, 3, 3] } },
      conv({ kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), group: int(2) } as never, false),
    );
    await checkGradient(
      { x: { dims: [2, 3, 6, 6] }, w: { dims: [3, 1, 3, 3] } },
      conv(
        {
          kernel_shape: ints([3, 3]),
          strides: ints([2, 2]),
          pads: ints([1, 1, 1, 1]),
          group: int(3),
        } as never,
        false,
      ),
    );
    await checkGradient(
      { x: { dims: [2, 3, 5, 5] }, w: { dims: [3, 1, 3, 3] } },
      conv({ kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), group: int(3) } as never, false),
    );
    await checkGradient(
      { x: { dims: [2, 3, 5, 5] }, w: { dims: [6, 1, 3, 3] } },
      conv({ kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), group: int(3) } as never, false),
    );
    await checkGradient(
      { x: { dims: [2, 1, 8] }, w: { dims: [1, 1, 3] } },
      conv({ kernel_shape: ints([3]), pads: ints([1, 1]) }, false),
    );
  });

  it('Gemm with transB (Linear), MatMul-free', async () => {
    await checkGradient({ a: { dims: [3, 5] }, w: { dims: [4, 5] }, c: { dims: [4] } }, (b, x) =>
      b.node('Gemm', [x.a, x.w, x.c], { transB: int(1) }),
    );
  });

  it('Gemm with transA, and with both operands transposed (batch-last products)', async () => {
    await checkGradient({ a: { dims: [5, 3] }, w: { dims: [5, 4] }, c: { dims: [4] } }, (b, x) =>
      b.node('Gemm', [x.a, x.w, x.c], { transA: int(1) }),
    );
    await checkGradient({ a: { dims: [5, 3] }, w: { dims: [4, 5] } }, (b, x) =>
      b.node('Gemm', [x.a, x.w], { transA: int(1), transB: int(1) }),
    );
  });

  it('MaxPool 3x3/2 pad 1, AveragePool 2x2/2 on an odd size, GlobalAveragePool', async () => {
    const distinct = Float32Array.from({ length: 2 * 2 * 7 * 7 }, (_, i) => ((i * 37) % 196) * 0.05 - 4.9);
    await checkGradient({ x: { dims: [2, 2, 7, 7], values: distinct } }, (b, x) =>
      b.node('MaxPool', [x.x], {
        kernel_shape: ints([3, 3]),
        strides: ints([2, 2]),
        pads: ints([1, 1, 1, 1]),
      }),
    );
    await checkGradient({ x: { dims: [2, 3, 5, 5] } }, (b, x) =>
      b.node('AveragePool', [x.x], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }),
    );
    await checkGradient({ x: { dims: [2, 3, 4, 4] } }, (b, x) => b.node('GlobalAveragePool', [x.x]));
  });

  it('Relu, Clip (ReLU6), Tanh, Sigmoid, Neg, Sqrt, Reciprocal', async () => {
    const scaled = awayFromZero(40, 3).map((v) => v * 8); // crosses 0 and 6 for Clip, away from both
    await checkGradient(
      { x: { dims: [40], values: scaled.map((v) => (Math.abs(v - 6) < 0.1 ? v + 0.3 : v)) } },
      (b, x) => b.node('Clip', [x.x, b.floatValues([0], []), b.floatValues([6], [])]),
    );
    for (const op of ['Relu', 'Tanh', 'Sigmoid', 'Neg']) {
      await checkGradient({ x: { dims: [4, 5] } }, (b, x) => b.node(op, [x.x]));
    }
    const positive = awayFromZero(20, 4).map(Math.abs);
    for (const op of ['Sqrt', 'Reciprocal']) {
      await checkGradient({ x: { dims: [20], values: positive } }, (b, x) => b.node(op, [x.x]));
    }
  });

  it('Add, Sub, Mul, Div with numpy broadcasting', async () => {
    for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
      await checkGradient({ a: { dims: [2, 3, 4, 4] }, c: { dims: [1, 3, 1, 1] } }, (b, x) =>
        b.node(op, [x.a, x.c]),
      );
      await checkGradient({ a: { dims: [3] }, c: { dims: [2, 3] } }, (b, x) => b.node(op, [x.a, x.c]));
    }
  });

  it('Slice with steps (2 and 3, ends inside and at the edge)', async () => {
    await checkGradient({ a: { dims: [2, 3, 7, 8] } }, (b, x) =>
      b.node('Slice', [
        x.a,
        b.int64Values([1, 0]),
        b.int64Values([6, 8]),
        b.int64Values([2, 3]),
        b.int64Values([2, 3]),
      ]),
    );
  });

  it('Pad (zeros, uneven pads on two axes)', async () => {
    await checkGradient({ a: { dims: [2, 3, 3, 4] } }, (b, x) =>
      b.node('Pad', [x.a, b.int64Values([0, 0, 1, 2, 0, 0, 2, 1])]),
    );
  });

  it('Concat, Split, Slice, Reshape, Flatten, Transpose', async () => {
    await checkGradient({ a: { dims: [2, 3, 2, 2] }, c: { dims: [2, 1, 2, 2] } }, (b, x) =>
      b.node('Concat', [x.a, x.c], { axis: int(1) }),
    );
    await checkGradient({ a: { dims: [2, 6, 2] } }, (b, x) => {
      const [p, q] = b.nodeMulti('Split', [x.a, b.int64Values([2, 4])], { axis: int(1) }, 2);
      return b.node('Mul', [
        p,
        b.node('Slice', [q, b.int64Values([1]), b.int64Values([3]), b.int64Values([1])]),
      ]);
    });
    await checkGradient({ a: { dims: [2, 3, 2, 2] } }, (b, x) =>
      b.node(
        'Transpose',
        [b.node('Reshape', [b.node('Flatten', [x.a], { axis: int(1) }), b.int64Values([4, 6])])],
        {
          perm: ints([1, 0]),
        },
      ),
    );
  });

  it('ReduceMean, ReduceSum, LogSoftmax', async () => {
    await checkGradient({ a: { dims: [2, 3, 4] } }, (b, x) => reduceMean(b, x.a, [0, 2]));
    await checkGradient({ a: { dims: [2, 3, 4] } }, (b, x) => reduceSum(b, x.a, [1], false));
    await checkGradient({ a: { dims: [3, 5] } }, (b, x) => b.node('LogSoftmax', [x.a], { axis: int(1) }));
  });

  it("BatchNorm's closed-form region gradient (batch statistics)", async () => {
    const { batchNormTraining } = await import('../../src/onnx/training-layers.js');
    const { BatchNorm2d } = await import('../../src/nn/batchnorm.js');
    const { initBackend } = await import('../../src/engine/backend.js');
    await initBackend({ backend: 'cpu' });
    const bn = new BatchNorm2d(3);
    try {
      await checkGradient(
        {
          x: { dims: [2, 3, 3, 3] },
          weight: { dims: [3] },
          bias: { dims: [3] },
          mean: { dims: [3] },
          variance: { dims: [3], values: Float32Array.of(1, 2, 3) },
        },
        (b, x) =>
          batchNormTraining(b, x.x, bn, {
            weight: x.weight,
            bias: x.bias,
            runningMean: x.mean,
            runningVar: x.variance,
          }),
        { wrt: ['x', 'weight', 'bias'], epsilon: 3e-3 },
      );
    } finally {
      bn.dispose();
    }
  });

  it('a value used twice sums its gradients; an unknown op is a named error', async () => {
    await checkGradient({ a: { dims: [4] } }, (b, x) => b.node('Mul', [x.a, b.node('Tanh', [x.a])]));
    await assert.rejects(
      checkGradient({ a: { dims: [4] } }, (b, x) => b.node('Erf', [x.a])),
      /no gradient rule for ONNX op Erf/,
    );
  });
});
