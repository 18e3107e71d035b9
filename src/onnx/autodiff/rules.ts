/**
 * Reverse-mode gradient rules, one per ONNX op type the models emit. A rule receives the forward node, the
 * shapes of every forward value, and the gradients of the node's outputs (null where an output gets none), and
 * emits nodes computing the gradient of each input (null for inputs that have none: shapes, indices, constants).
 * All 4-D values are NCHW. Formulations were chosen for ONNX Runtime's CPU kernels:
 * - Conv's input gradient is a ConvTranspose; its filter gradient is one matrix product over an im2col of the
 *   input (taps stacked along channels), which keeps the product large (a per-batch or per-tap product is not).
 * - ReLU-like masks use `Where` on the output (one pass) instead of a cast mask and a product.
 */

import { numel } from '../../util/shape.js';
import { int, ints, type OnnxBuilder, type Value } from '../builder.js';
import { intsAttribute, type NodeProto } from '../onnx-proto.js';
import { reduceSum, reductionAxes } from '../training-layers.js';

/** What a rule can see of the forward graph. */
export interface GradContext {
  b: OnnxBuilder;
  node: NodeProto;
  /** Static shape of a forward value. */
  shape(value: Value): readonly number[];
  /** Whether the input at `index` needs a gradient (rules skip the others). */
  wants(index: number): boolean;
}

/** Gradients of the node's inputs, in input order. */
export type GradientRule = (ctx: GradContext, dOutputs: ReadonlyArray<Value | null>) => Array<Value | null>;

function intAttr(node: NodeProto, name: string, fallback: number): number {
  const attribute = node.attributes[name];
  if (!attribute) return fallback;
  if (attribute.kind !== 'int') throw new Error(`${node.name}: attribute ${name} is not an int`);
  return attribute.value;
}

function int64Input(ctx: GradContext, index: number, what: string): readonly number[] {
  const value = ctx.node.inputs[index];
  const values = value ? ctx.b.int64ValuesOf(value) : undefined;
  if (!values) throw new Error(`gradient of ${ctx.node.name}: its ${what} must be a constant`);
  return values;
}

/** A constant holding a shape. */
const shapeOf = (ctx: GradContext, value: Value) => ctx.b.int64Values([...ctx.shape(value)]);

/** Sums `grad` (shaped like the op's output) down to `target`'s shape, undoing numpy broadcasting. */
function unbroadcast(ctx: GradContext, grad: Value, gradShape: readonly number[], target: Value): Value {
  const targetShape = ctx.shape(target);
  if (gradShape.length === targetShape.length && gradShape.every((d, i) => d === targetShape[i])) return grad;
  const offset = gradShape.length - targetShape.length;
  const axes: number[] = [];
  gradShape.forEach((d, i) => {
    if (i < offset || (targetShape[i - offset] === 1 && d !== 1)) axes.push(i);
  });
  const summed = axes.length > 0 ? reduceSum(ctx.b, grad, axes, true) : grad;
  return ctx.b.node('Reshape', [summed, ctx.b.int64Values([...targetShape])]);
}

/**
 * Emits an elementwise op on same-shaped `values` (with scalar constants) through flat views when `shape` ends in
 * 1s: ONNX Runtime broadcasts a scalar over such shapes ([N, C, 1, 1] maps, 1x1 conv weights) one element per
 * inner loop, about ten times slower than over the flat tensor. Reshapes are free.
 */
function onFlat(
  ctx: GradContext,
  shape: readonly number[],
  values: Value[],
  emit: (...flat: Value[]) => Value,
): Value {
  if (shape.length < 2 || shape[shape.length - 1] !== 1) return emit(...values);
  const flat = ctx.b.int64Values([-1]);
  const out = emit(...values.map((value) => ctx.b.node('Reshape', [value, flat])));
  return ctx.b.node('Reshape', [out, ctx.b.int64Values([...shape])]);
}

const zeroScalar = (b: OnnxBuilder) => b.floatValues([0], []);
const oneScalar = (b: OnnxBuilder) => b.floatValues([1], []);

/** Conv (1-D or 2-D, any stride, padding, dilation and groups). */
const conv: GradientRule = (ctx, [dy]) => {
  if (!dy) return [null, null, null];
  const { b, node } = ctx;
  const [x, w, bias] = node.inputs;
  const xShape = ctx.shape(x);
  const wShape = ctx.shape(w);
  const yShape = ctx.shape(node.outputs[0]);
  const spatial = xShape.length - 2;
  if (spatial !== 1 && spatial !== 2) throw new Error(`gradient of ${node.name}: ${spatial}-D convolution`);
  const kernel = wShape.slice(2);
  const strides = intsAttribute(node, 'strides', new Array(spatial).fill(1));
  const dilations = intsAttribute(node, 'dilations', new Array(spatial).fill(1));
  const pads = intsAttribute(node, 'pads', new Array(2 * spatial).fill(0));
  const group = intAttr(node, 'group', 1);
  const dx = convInputGradient(
    ctx,
    dy,
    w,
    { kernel, strides, dilations, pads, group },
    xShape,
    yShape,
    wShape,
  );
  const dw = convFilterGradient(ctx, x, dy, yShape, { kernel, strides, dilations, pads, group });
  const db = bias ? reduceSum(b, dy, [0, ...Array.from({ length: spatial }, (_, i) => 2 + i)], false) : null;
  return bias ? [dx, dw, db] : [dx, dw];
};

/**
 * dX of a convolution. Stride 1: a convolution of dY with the kernel flipped and its in/out channels swapped
 * (per group), padded d(k - 1) - p: measured 1.2x-2.2x faster in ONNX Runtime than the equivalent ConvTranspose,
 * which adds a col2im pass. Strided: ConvTranspose, with output_padding restoring sizes the forward floor dropped.
 */
function convInputGradient(
  ctx: GradContext,
  dy: Value,
  w: Value,
  geometry: ConvGeometry,
  xShape: readonly number[],
  yShape: readonly number[],
  wShape: readonly number[],
): Value {
  const { b } = ctx;
  const { kernel, strides, dilations, pads, group } = geometry;
  const spatial = kernel.length;
  const flippedPads = [
    ...kernel.map((k, i) => dilations[i] * (k - 1) - pads[i]),
    ...kernel.map((k, i) => dilations[i] * (k - 1) - pads[i + spatial]),
  ];
  if (strides.every((s) => s === 1) && flippedPads.every((p) => p >= 0)) {
    const [outChannels, inPerGroup] = wShape;
    const outPerGroup = outChannels / group;
    // [O, I/g, k...] -> [g, O/g, I/g, k...] -> [g, I/g, O/g, k...] -> [I, O/g, k...]
    let swapped: Value;
    if (group === 1)
      swapped = b.node('Transpose', [w], { perm: ints([1, 0, ...kernel.map((_, i) => 2 + i)]) });
    else if (outPerGroup === 1 && inPerGroup === 1) swapped = w;
    else {
      const split = b.node('Reshape', [w, b.int64Values([group, outPerGroup, inPerGroup, ...kernel])]);
      const perm = [0, 2, 1, ...kernel.map((_, i) => 3 + i)];
      swapped = b.node('Reshape', [
        b.node('Transpose', [split], { perm: ints(perm) }),
        b.int64Values([group * inPerGroup, outPerGroup, ...kernel]),
      ]);
    }
    const flipAxes = kernel.map((_, i) => 2 + i).filter((axis) => wShape[axis] > 1);
    const flipped =
      flipAxes.length === 0
        ? swapped
        : b.node('Slice', [
            swapped,
            b.int64Values(flipAxes.map(() => -1)),
            b.int64Values(flipAxes.map((axis) => -(wShape[axis] + 1))),
            b.int64Values(flipAxes),
            b.int64Values(flipAxes.map(() => -1)),
          ]);
    return b.node('Conv', [dy, flipped], {
      kernel_shape: ints(kernel),
      pads: ints(flippedPads),
      dilations: ints(dilations),
      group: int(group),
    });
  }
  const outputPadding = kernel.map((k, i) => {
    const covered =
      strides[i] * (yShape[2 + i] - 1) + dilations[i] * (k - 1) + 1 - pads[i] - pads[i + spatial];
    return xShape[2 + i] - covered;
  });
  return b.node('ConvTranspose', [dy, w], {
    kernel_shape: ints(kernel),
    strides: ints(strides),
    pads: ints(pads),
    dilations: ints(dilations),
    group: int(group),
    output_padding: ints(outputPadding),
  });
}

interface ConvGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  group: number;
}

/**
 * dW[o, i, kh, kw] = sum over n, y, x of dY[n, o, y, x] * Xpadded[n, i, y*s + kh*d, x*s + kw*d], as one product
 * of dY [O, N*Ho*Wo] with the im2col of X [T*I, N*Ho*Wo] (T taps); grouped convolutions as a batched product per
 * group. 1-D convolutions run as 2-D ones of height 1.
 */
function convFilterGradient(
  ctx: GradContext,
  x: Value,
  dy: Value,
  dyShape: readonly number[],
  geometry: ConvGeometry,
): Value {
  const { b } = ctx;
  let xShape = [...ctx.shape(x)];
  let yShape = [...dyShape];
  let { kernel, strides, dilations, pads } = geometry;
  const oneD = xShape.length === 3;
  if (oneD) {
    x = b.node('Reshape', [x, b.int64Values([xShape[0], xShape[1], 1, xShape[2]])]);
    dy = b.node('Reshape', [dy, b.int64Values([yShape[0], yShape[1], 1, yShape[2]])]);
    xShape = [xShape[0], xShape[1], 1, xShape[2]];
    yShape = [yShape[0], yShape[1], 1, yShape[2]];
    kernel = [1, kernel[0]];
    strides = [1, strides[0]];
    dilations = [1, dilations[0]];
    pads = [0, pads[0], 0, pads[1]];
  }
  const [n, inChannels] = xShape;
  const [, outChannels, ho, wo] = yShape;
  const g = geometry.group;
  const [kh, kw] = kernel;
  const taps = kh * kw;
  const k = n * ho * wo;
  const inPerGroup = inChannels / g;
  const outPerGroup = outChannels / g;
  // Ungrouped: the columns are built channel-major ([T*I, N, Ho, Wo], the product's operand as it is) by moving
  // X's channel axis first once, before the taps multiply its size by T: no transpose of the T-fold im2col.
  const channelMajor = g === 1;
  const source = channelMajor ? b.node('Transpose', [x], { perm: ints([1, 0, 2, 3]) }) : x;
  const padded = pads.some((p) => p !== 0)
    ? b.node('Pad', [source, b.int64Values([0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]])])
    : source;
  const paddedShape = [xShape[2] + pads[0] + pads[2], xShape[3] + pads[1] + pads[3]];
  const tapValues: Value[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const top = i * dilations[0];
      const left = j * dilations[1];
      const bottom = top + strides[0] * (ho - 1) + 1;
      const right = left + strides[1] * (wo - 1) + 1;
      const whole =
        top === 0 &&
        left === 0 &&
        bottom === paddedShape[0] &&
        right === paddedShape[1] &&
        strides.every((s) => s === 1);
      tapValues.push(
        whole
          ? padded
          : b.node('Slice', [
              padded,
              b.int64Values([top, left]),
              b.int64Values([bottom, right]),
              b.int64Values([2, 3]),
              b.int64Values(strides),
            ]),
      );
    }
  }
  // Channel index of the stacked taps: tap * I + i.
  const stackAxis = channelMajor ? 0 : 1;
  const columns = taps === 1 ? tapValues[0] : b.node('Concat', tapValues, { axis: int(stackAxis) });
  let flat: Value;
  if (channelMajor) {
    // dY channel-major too, [O, N*Ho*Wo]: moving the channel axis first copies whole Ho*Wo rows.
    const dyT = b.node('Reshape', [
      b.node('Transpose', [dy], { perm: ints([1, 0, 2, 3]) }),
      b.int64Values([outChannels, k]),
    ]);
    const colT = b.node('Reshape', [columns, b.int64Values([taps * inChannels, k])]);
    flat = b.node('Gemm', [dyT, colT], { transB: int(1) }); // [O, T*I]
  } else {
    const dyG = b.node('Reshape', [
      b.node('Transpose', [b.node('Reshape', [dy, b.int64Values([n, g, outPerGroup, ho, wo])])], {
        perm: ints([1, 2, 0, 3, 4]),
      }),
      b.int64Values([g, outPerGroup, k]),
    ]);
    const colG = b.node('Reshape', [
      b.node('Transpose', [b.node('Reshape', [columns, b.int64Values([n, taps, g, inPerGroup, ho, wo])])], {
        perm: ints([2, 0, 4, 5, 1, 3]),
      }),
      b.int64Values([g, k, taps * inPerGroup]),
    ]);
    flat = b.node('MatMul', [dyG, colG]); // [G, O/G, T*I/G]
  }
  const dw = b.node(
    'Transpose',
    [b.node('Reshape', [flat, b.int64Values([outChannels, kh, kw, inPerGroup])])],
    {
      perm: ints([0, 3, 1, 2]),
    },
  );
  return oneD ? b.node('Reshape', [dw, b.int64Values([outChannels, inPerGroup, kw])]) : dw;
}

/** Y = op(A) op(B) + C, op transposing where transA / transB say. */
const gemm: GradientRule = (ctx, [dy]) => {
  const { b, node } = ctx;
  if (!dy) return [null, null, null];
  const [a, w, c] = node.inputs;
  const transA = intAttr(node, 'transA', 0) === 1;
  const transB = intAttr(node, 'transB', 0) === 1;
  const product = (x: Value, y: Value, tx: boolean, ty: boolean) =>
    b.node('Gemm', [x, y], { ...(tx ? { transA: int(1) } : {}), ...(ty ? { transB: int(1) } : {}) });
  // dop(A) = dY op(B)^T, dop(B) = op(A)^T dY; a transposed operand takes the transpose of its own.
  // A constant operand (the whole-map conv's tap selection) needs no gradient product.
  const da = !ctx.wants(0) ? null : transA ? product(w, dy, transB, true) : product(dy, w, false, !transB);
  const dw = !ctx.wants(1) ? null : transB ? product(dy, a, true, transA) : product(a, dy, !transA, false);
  const dc = c ? unbroadcast(ctx, dy, ctx.shape(node.outputs[0]), c) : null;
  return c ? [da, dw, dc] : [da, dw];
};

/** MaxPool: the output gradient scattered (added) to the positions the maxima came from. */
const maxPool: GradientRule = (ctx, [dy]) => {
  const { b, node } = ctx;
  if (!dy) return [null];
  const x = node.inputs[0];
  // Ask the forward node for its argmax indices (flat over the whole input, as ONNX defines them).
  if (node.outputs.length < 2) node.outputs.push(b.uniqueName(`${node.name}:indices`));
  const total = numel(ctx.shape(x));
  const flatShape = b.int64Values([-1]);
  const scattered = b.node(
    'ScatterElements',
    [
      b.node('ConstantOfShape', [b.int64Values([total])]),
      b.node('Reshape', [node.outputs[1], flatShape]),
      b.node('Reshape', [dy, flatShape]),
    ],
    { axis: int(0), reduction: { kind: 'string', value: 'add' } },
  );
  return [b.node('Reshape', [scattered, shapeOf(ctx, x)])];
};

/** AveragePool without padding: each output gradient spread evenly over its window (a depthwise ConvTranspose). */
const averagePool: GradientRule = (ctx, [dy]) => {
  const { b, node } = ctx;
  if (!dy) return [null];
  if (intsAttribute(node, 'pads', [0]).some((p) => p !== 0) || intAttr(node, 'ceil_mode', 0) !== 0) {
    throw new Error(`gradient of ${node.name}: padded or ceil-mode average pooling is not supported`);
  }
  const x = node.inputs[0];
  const xShape = ctx.shape(x);
  const kernel = intsAttribute(node, 'kernel_shape', []);
  const strides = intsAttribute(
    node,
    'strides',
    kernel.map(() => 1),
  );
  const channels = xShape[1];
  const size = numel(kernel);
  const weight = b.floatConstant(
    `avgpool-grad:${channels}:${kernel}`,
    'avgpool_grad_weight',
    [channels, 1, ...kernel],
    () => new Float32Array(channels * size).fill(1 / size),
  );
  const yShape = ctx.shape(node.outputs[0]);
  const outputPadding = kernel.map((k, i) => xShape[2 + i] - (strides[i] * (yShape[2 + i] - 1) + k));
  return [
    b.node('ConvTranspose', [dy, weight], {
      kernel_shape: ints(kernel),
      strides: ints(strides),
      group: int(channels),
      output_padding: ints(outputPadding),
    }),
  ];
};

const globalAveragePool: GradientRule = (ctx, [dy]) => {
  if (!dy) return [null];
  const x = ctx.node.inputs[0];
  const shape = ctx.shape(x);
  const scaled = onFlat(ctx, [shape[0], shape[1], 1, 1], [dy], (dy) =>
    ctx.b.node('Mul', [dy, ctx.b.floatValues([1 / numel(shape.slice(2))], [])]),
  );
  return [ctx.b.node('Expand', [scaled, shapeOf(ctx, x)])];
};

const relu: GradientRule = (ctx, [dy]) => {
  if (!dy) return [null];
  const { b, node } = ctx;
  const y = node.outputs[0];
  return [
    onFlat(ctx, ctx.shape(y), [y, dy], (y, dy) =>
      b.node('Where', [b.node('Greater', [y, zeroScalar(b)]), dy, zeroScalar(b)]),
    ),
  ];
};

/** Clip(x, min, max): gradient where min < x < max (PyTorch's hardtanh backward). */
const clip: GradientRule = (ctx, [dy]) => {
  if (!dy) return [null, null, null];
  const { b, node } = ctx;
  const [input, low, high] = node.inputs;
  const masked = onFlat(ctx, ctx.shape(input), [input, dy], (x, dy) => {
    let inside = low ? b.node('Greater', [x, low]) : null;
    if (high) {
      const below = b.node('Less', [x, high]);
      inside = inside ? b.node('And', [inside, below]) : below;
    }
    return inside ? b.node('Where', [inside, dy, zeroScalar(b)]) : dy;
  });
  return [masked, null, null];
};

const tanh: GradientRule = (ctx, [dy]) => {
  if (!dy) return [null];
  const { b } = ctx;
  const y = ctx.node.outputs[0];
  return [
    onFlat(ctx, ctx.shape(y), [y, dy], (y, dy) =>
      b.node('Mul', [dy, b.node('Sub', [oneScalar(b), b.node('Mul', [y, y])])]),
    ),
  ];
};

const sigmoid: GradientRule = (ctx, [dy]) => {
  if (!dy) return [null];
  const { b } = ctx;
  const y = ctx.node.outputs[0];
  return [
    onFlat(ctx, ctx.shape(y), [y, dy], (y, dy) =>
      b.node('Mul', [dy, b.node('Mul', [y, b.node('Sub', [oneScalar(b), y])])]),
    ),
  ];
};

/** A binary elementwise op's rule from the (broadcast-shaped) gradient of each operand. */
function binary(partials: (ctx: GradContext, dy: Value) => [() => Value, () => Value]): GradientRule {
  return (ctx, [dy]) => {
    if (!dy) return [null, null];
    const shape = ctx.shape(ctx.node.outputs[0]);
    const [da, db] = partials(ctx, dy);
    return [da, db].map((partial, i) =>
      ctx.wants(i) ? unbroadcast(ctx, partial(), shape, ctx.node.inputs[i]) : null,
    );
  };
}

const add = binary((_ctx, dy) => [() => dy, () => dy]);
const sub = binary((ctx, dy) => [() => dy, () => ctx.b.node('Neg', [dy])]);
const mul = binary((ctx, dy) => {
  const [a, c] = ctx.node.inputs;
  return [() => ctx.b.node('Mul', [dy, c]), () => ctx.b.node('Mul', [dy, a])];
});
const div = binary((ctx, dy) => {
  const { b } = ctx;
  const [, c] = ctx.node.inputs;
  const y = ctx.node.outputs[0];
  return [() => b.node('Div', [dy, c]), () => b.node('Neg', [b.node('Mul', [dy, b.node('Div', [y, c])])])];
});

const neg: GradientRule = (ctx, [dy]) => [dy ? ctx.b.node('Neg', [dy]) : null];

const sqrt: GradientRule = (ctx, [dy]) => {
  if (!dy) return [null];
  const { b } = ctx;
  const y = ctx.node.outputs[0];
  return [
    onFlat(ctx, ctx.shape(y), [y, dy], (y, dy) =>
      b.node('Div', [b.node('Mul', [dy, b.floatValues([0.5], [])]), y]),
    ),
  ];
};

const reciprocal: GradientRule = (ctx, [dy]) => {
  if (!dy) return [null];
  const { b } = ctx;
  const y = ctx.node.outputs[0];
  return [b.node('Neg', [b.node('Mul', [dy, b.node('Mul', [y, y])])])];
};

const concat: GradientRule = (ctx, [dy]) => {
  const { b, node } = ctx;
  if (!dy) return node.inputs.map(() => null);
  const axis = intAttr(node, 'axis', 0);
  const rank = ctx.shape(node.outputs[0]).length;
  const normalised = axis < 0 ? axis + rank : axis;
  const sizes = node.inputs.map((input) => ctx.shape(input)[normalised]);
  if (node.inputs.length === 1) return [dy];
  return b.nodeMulti('Split', [dy, b.int64Values(sizes)], { axis: int(normalised) }, sizes.length);
};

const split: GradientRule = (ctx, dOutputs) => {
  const { b, node } = ctx;
  if (dOutputs.every((d) => d === null)) return [null, null];
  const axis = intAttr(node, 'axis', 0);
  const parts = node.outputs.map((output, i) => {
    const d = dOutputs[i];
    return d ?? b.node('ConstantOfShape', [shapeOf(ctx, output)]);
  });
  return [b.node('Concat', parts, { axis: int(axis) }), null];
};

/**
 * Slice: the gradient padded back to the input's shape with zeros. Positive steps s > 1 first spread it out:
 * each element followed by s - 1 zeros along that axis (a Reshape adding a unit axis after it, a Pad of that
 * axis to s, a Reshape merging the two), then the padding places the first element at its start.
 */
const slice: GradientRule = (ctx, [dy]) => {
  const { b, node } = ctx;
  if (!dy) return node.inputs.map(() => null);
  const x = node.inputs[0];
  const shape = ctx.shape(x);
  const rank = shape.length;
  const starts = int64Input(ctx, 1, 'starts');
  // Where each slice ends follows from the output's static shape (count x step from the start).
  const axes = (node.inputs[3] ? int64Input(ctx, 3, 'axes') : starts.map((_, i) => i)).map((axis) =>
    axis < 0 ? axis + rank : axis,
  );
  const steps = node.inputs[4] ? int64Input(ctx, 4, 'steps') : starts.map(() => 1);
  if (steps.some((s) => s < 1))
    throw new Error(`gradient of ${node.name}: negative Slice steps are not supported`);
  let grad = dy;
  const gradShape = [...ctx.shape(node.outputs[0])];
  const pads = new Array(2 * rank).fill(0);
  axes.forEach((axis, i) => {
    const dim = shape[axis];
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const start = clamp(starts[i]);
    const step = steps[i];
    const count = gradShape[axis];
    if (step > 1 && count > 0) {
      const unit = [...gradShape.slice(0, axis + 1), 1, ...gradShape.slice(axis + 1)];
      const spreadPads = new Array(2 * unit.length).fill(0);
      spreadPads[unit.length + axis + 1] = step - 1;
      const spread = b.node('Pad', [
        b.node('Reshape', [grad, b.int64Values(unit)]),
        b.int64Values(spreadPads),
      ]);
      gradShape[axis] = count * step;
      grad = b.node('Reshape', [spread, b.int64Values(gradShape)]);
    }
    // The spread tail past the input's end (at most step - 1 zeros) is cut by a negative end pad.
    pads[axis] = start;
    pads[axis + rank] = dim - start - gradShape[axis];
  });
  return [b.node('Pad', [grad, b.int64Values(pads)]), ...node.inputs.slice(1).map(() => null)];
};

/** Pad with zeros (constant mode, value 0, no cropping): the gradient sliced back to the input's region. */
const pad: GradientRule = (ctx, [dy]) => {
  const { b, node } = ctx;
  if (!dy) return node.inputs.map(() => null);
  const mode = node.attributes.mode;
  if (mode && !(mode.kind === 'string' && mode.value === 'constant'))
    throw new Error(`gradient of ${node.name}: only constant padding is supported`);
  if (node.inputs[2] && ctx.b.int64ValuesOf(node.inputs[2]) === undefined && ctx.wants(2))
    throw new Error(`gradient of ${node.name}: a padding value that needs a gradient`);
  const shape = ctx.shape(node.inputs[0]);
  const pads = int64Input(ctx, 1, 'pads');
  if (pads.some((p) => p < 0)) throw new Error(`gradient of ${node.name}: negative (cropping) pads`);
  const axes = shape.map((_, axis) => axis);
  const starts = axes.map((axis) => pads[axis]);
  return [
    b.node('Slice', [
      dy,
      b.int64Values(starts),
      b.int64Values(axes.map((axis) => starts[axis] + shape[axis])),
      b.int64Values(axes),
    ]),
    ...node.inputs.slice(1).map(() => null),
  ];
};

/** Reshape-like ops: the gradient reshaped back. */
const reshape: GradientRule = (ctx, [dy]) => {
  const { node } = ctx;
  if (!dy) return node.inputs.map(() => null);
  return [ctx.b.node('Reshape', [dy, shapeOf(ctx, node.inputs[0])]), ...node.inputs.slice(1).map(() => null)];
};

const identity: GradientRule = (_ctx, [dy]) => [dy];

const transpose: GradientRule = (ctx, [dy]) => {
  if (!dy) return [null];
  const perm = intsAttribute(ctx.node, 'perm', []);
  const inverse = new Array(perm.length);
  perm.forEach((p, i) => {
    inverse[p] = i;
  });
  return [ctx.b.node('Transpose', [dy], { perm: ints(inverse) })];
};

const logSoftmax: GradientRule = (ctx, [dy]) => {
  if (!dy) return [null];
  const { b, node } = ctx;
  const axis = intAttr(node, 'axis', -1);
  const rank = ctx.shape(node.outputs[0]).length;
  const summed = reduceSum(b, dy, [axis < 0 ? axis + rank : axis], true);
  return [b.node('Sub', [dy, b.node('Mul', [b.node('Exp', [node.outputs[0]]), summed])])];
};

/** ReduceSum / ReduceMean: the gradient broadcast back over the reduced axes (divided by their size for a mean). */
function reduction(mean: boolean): GradientRule {
  return (ctx, [dy]) => {
    const { b, node } = ctx;
    if (!dy) return node.inputs.map(() => null);
    const x = node.inputs[0];
    const shape = ctx.shape(x);
    const normalised = reductionAxes(b, node, shape.length);
    if (!normalised) throw new Error(`gradient of ${node.name}: its axes must be a constant`);
    const kept = shape.map((d, i) => (normalised.includes(i) ? 1 : d));
    let grad = b.node('Reshape', [dy, b.int64Values(kept)]);
    if (mean) grad = b.node('Mul', [grad, b.floatValues([1 / numel(normalised.map((a) => shape[a]))], [])]);
    return [b.node('Expand', [grad, shapeOf(ctx, x)]), ...node.inputs.slice(1).map(() => null)];
  };
}

/** Ops whose outputs carry no gradient (shapes, sizes, casts of them, constants). */
const none: GradientRule = (ctx) => ctx.node.inputs.map(() => null);

export const GRADIENT_RULES: Readonly<Record<string, GradientRule>> = {
  Conv: conv,
  Gemm: gemm,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  Relu: relu,
  Clip: clip,
  Tanh: tanh,
  Sigmoid: sigmoid,
  Add: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Neg: neg,
  Sqrt: sqrt,
  Reciprocal: reciprocal,
  Concat: concat,
  Split: split,
  Slice: slice,
  Pad: pad,
  Reshape: reshape,
  Flatten: reshape,
  Identity: identity,
  Transpose: transpose,
  LogSoftmax: logSoftmax,
  ReduceSum: reduction(false),
  ReduceMean: reduction(true),
  Shape: none,
  Size: none,
  Cast: none,
  ConstantOfShape: none,
};
