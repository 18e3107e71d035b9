/**
 * The TF.js kernels a traced forward pass may run between primitive layers, written as ONNX ops on the trace
 * backend. Each translates the logical (TF.js) axes to the stored ones (see tracer.ts). A kernel not listed here
 * fails the trace with TF.js's own "Cannot find registered kernel" error, naming it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../../util/shape.js';
import { int, ints, type Value } from '../builder.js';
import { reduceMean } from '../training-layers.js';
import { TRACE_BACKEND } from './backend.js';
import {
  type GraphTracer,
  type Layout,
  layoutOfRank,
  orderPreserving,
  physicalAxis,
  physicalDims,
  type Sym,
} from './tracer.js';

let tracer: GraphTracer | null = null;

/** Runs `record` with the kernels writing into `active`. */
export function withKernelTracer<T>(active: GraphTracer, record: () => T): T {
  const previous = tracer;
  tracer = active;
  try {
    return record();
  } finally {
    tracer = previous;
  }
}

function current(): GraphTracer {
  if (!tracer) throw new Error('a trace-backend kernel ran outside a trace');
  return tracer;
}

type Inputs = tf.NamedTensorInfoMap | tf.TensorInfo[];
type Kernel = (t: GraphTracer, inputs: Inputs, attrs: tf.NamedAttrMap) => tf.TensorInfo | tf.TensorInfo[];

function register(name: string, kernel: Kernel): void {
  tf.registerKernel({
    kernelName: name,
    backendName: TRACE_BACKEND,
    kernelFunc: ({ inputs, attrs }) => kernel(current(), inputs as Inputs, attrs as tf.NamedAttrMap),
  });
}

function named(inputs: Inputs, name: string): tf.TensorInfo {
  const input = (inputs as tf.NamedTensorInfoMap)[name];
  if (!input) throw new Error(`tracing a model into a graph: a kernel got no input ${name}`);
  return input;
}

/** A sym stored in the natural layout of its rank. */
function natural(t: GraphTracer, value: Value, shape: number[]): tf.TensorInfo {
  return t.output(t.sym(value, shape));
}

function unary(name: string, write: (t: GraphTracer, x: Value) => Value): void {
  register(name, (t, inputs) => {
    const x = t.symOf(named(inputs, 'x'));
    return t.output({ shape: x.shape, layout: x.layout, value: write(t, t.value(x, x.layout)) });
  });
}

unary('Relu', (t, x) => t.b.node('Relu', [x]));
unary('Relu6', (t, x) => t.b.node('Clip', [x, t.b.floatValues([0], []), t.b.floatValues([6], [])]));
unary('Tanh', (t, x) => t.b.node('Tanh', [x]));
unary('Sigmoid', (t, x) => t.b.node('Sigmoid', [x]));
unary('Neg', (t, x) => t.b.node('Neg', [x]));
register('Identity', (t, inputs) => t.output(t.symOf(named(inputs, 'x'))));
register('Cast', (t, inputs, attrs) => {
  if (attrs.dtype !== 'float32') throw new Error(`tracing a model into a graph: cast to ${attrs.dtype}`);
  return t.output(t.symOf(named(inputs, 'x')));
});

/**
 * An elementwise op with broadcasting. Operands are stored in the output's layout; one of lower rank than the
 * output must be a single value (written as a scalar, which ONNX and TF.js broadcast alike) or a constant
 * (rearranged here).
 */
function binary(name: string, op: string): void {
  register(name, (t, inputs) => {
    const a = t.symOf(named(inputs, 'a'));
    const b = t.symOf(named(inputs, 'b'));
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const layout = layoutOfRank(shape.length);
    const operand = (s: Sym): Value => {
      if (s.shape.length === shape.length || s.constant?.values.length === 1) return t.value(s, layout);
      if (s.constant) {
        const padded = [...new Array(shape.length - s.shape.length).fill(1), ...s.shape];
        return t.value(
          { shape: padded, layout, value: null, constant: { values: s.constant.values, shape: padded } },
          layout,
        );
      }
      throw new Error(
        `tracing a model into a graph: ${name} broadcasts a [${s.shape}] tensor against [${shape}]; reshape it first`,
      );
    };
    return t.output({ shape, layout, value: t.b.node(op, [operand(a), operand(b)]) });
  });
}

binary('Add', 'Add');
binary('Sub', 'Sub');
binary('Multiply', 'Mul');
binary('RealDiv', 'Div');

register('Concat', (t, inputs, attrs) => {
  const list = Object.values(inputs) as tf.TensorInfo[];
  const syms = list.map((input) => t.symOf(input));
  const axis = tf.util.parseAxisParam(attrs.axis as number, syms[0].shape)[0];
  const shape = [...syms[0].shape];
  shape[axis] = syms.reduce((sum, s) => sum + s.shape[axis], 0);
  const layout = layoutOfRank(shape.length);
  if (syms.length === 1) return t.output(syms[0]);
  const value = t.b.node(
    'Concat',
    syms.map((s) => t.value(s, layout)),
    { axis: int(physicalAxis(layout, axis)) },
  );
  return t.output({ shape, layout, value });
});

register('SplitV', (t, inputs, attrs) => {
  const info = named(inputs, 'x');
  const x = t.symOf(info);
  const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(
    info as tf.Tensor,
    attrs.numOrSizeSplits as number | number[],
    axis,
  );
  const outputs = t.b.nodeMulti(
    'Split',
    [t.value(x, x.layout), t.b.int64Values(sizes)],
    { axis: int(physicalAxis(x.layout, axis)) },
    sizes.length,
  );
  return outputs.map((value, i) => {
    const shape = [...x.shape];
    shape[axis] = sizes[i];
    return t.output({ shape, layout: x.layout, value });
  });
});

register('Slice', (t, inputs, attrs) => {
  const info = named(inputs, 'x');
  const x = t.symOf(info);
  const [begin, size] = tf.slice_util.parseSliceParams(
    info as tf.Tensor,
    attrs.begin as number | number[],
    attrs.size as number | number[],
  );
  const axes = x.shape
    .map((_, axis) => axis)
    .filter((axis) => begin[axis] !== 0 || size[axis] !== x.shape[axis]);
  if (axes.length === 0) return t.output(x);
  if (axes.some((axis) => x.shape.length === 4 && (axis === 1 || axis === 2)))
    t.requireFixedSize('a spatial slice');
  if (axes.includes(0)) throw new Error('tracing a model into a graph: a slice of the batch');
  const value = t.b.node('Slice', [
    t.value(x, x.layout),
    t.b.int64Values(axes.map((axis) => begin[axis])),
    t.b.int64Values(axes.map((axis) => begin[axis] + size[axis])),
    t.b.int64Values(axes.map((axis) => physicalAxis(x.layout, axis))),
  ]);
  return t.output({ shape: size, layout: x.layout, value });
});

/**
 * Reshape keeps the batch (written as 0, so the graph serves any batch). Stored layouts that keep the logical
 * element order (a pooled [N, 1, 1, C] map) reshape directly; otherwise through the logical layout.
 */
register('Reshape', (t, inputs, attrs) => {
  const x = t.symOf(named(inputs, 'x'));
  const shape = tf.util.inferFromImplicitShape(attrs.shape as number[], numel(x.shape));
  if (shape[0] !== x.shape[0]) {
    throw new Error(
      `tracing a model into a graph: a reshape of [${x.shape}] to [${shape}] changes the batch`,
    );
  }
  const layout: Layout = layoutOfRank(shape.length);
  const spatial = (dims: readonly number[]) => dims.length === 4 && dims[1] * dims[2] !== 1;
  if (spatial(x.shape) || spatial(shape)) t.requireFixedSize(`reshaping [${x.shape}] to [${shape}]`);
  if (orderPreserving(x.layout, x.shape) && orderPreserving(layout, shape)) {
    const dims = physicalDims(layout, shape);
    const value = t.b.node('Reshape', [t.value(x, x.layout), t.b.int64Values([0, ...dims.slice(1)])]);
    return t.output({ shape, layout, value });
  }
  if (x.shape.length === 4 && x.shape[1] * x.shape[2] !== 1)
    t.requireFixedSize(`reshaping a [${x.shape}] map`);
  const reshaped = t.b.node('Reshape', [t.value(x, 'plain'), t.b.int64Values([0, ...shape.slice(1)])]);
  return t.output({ shape, layout, value: t.convert(reshaped, shape, 'plain', layout) });
});

/** Mean over the spatial axes of an image is a GlobalAveragePool; any other mean a ReduceMean. */
register('Mean', (t, inputs, attrs) => {
  const x = t.symOf(named(inputs, 'x'));
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape).sort();
  const keepDims = attrs.keepDims as boolean;
  const kept = x.shape.map((dim, axis) => (axes.includes(axis) ? 1 : dim));
  const shape = keepDims ? kept : x.shape.filter((_, axis) => !axes.includes(axis));
  if (x.layout === 'nchw' && axes.join() === '1,2') {
    const pooled = t.b.node('GlobalAveragePool', [t.value(x, 'nchw')]);
    if (keepDims) return t.output({ shape, layout: 'nchw', value: pooled });
    return natural(t, t.b.node('Flatten', [pooled], { axis: int(1) }), shape);
  }
  const reduced = reduceMean(
    t.b,
    t.value(x, x.layout),
    axes.map((axis) => physicalAxis(x.layout, axis)),
    keepDims,
  );
  if (keepDims) return t.output({ shape, layout: x.layout, value: reduced });
  if (x.layout !== 'plain')
    throw new Error(`tracing a model into a graph: a mean over axes ${axes} of an image`);
  return natural(t, reduced, shape);
});

/**
 * `tf.maxPool` called directly (not through a `MaxPool2d` layer, e.g. the FPN's kernel-1 stride-2 extra level):
 * ONNX `MaxPool`, which ignores padded cells as TF.js does. 'same' padding depends on the size, so only a graph
 * of fixed size may have it.
 */
register('MaxPool', (t, inputs, attrs) => {
  const info = named(inputs, 'x');
  const x = t.symOf(info);
  const pad = attrs.pad as 'valid' | 'same' | number;
  if (pad === 'same') t.requireFixedSize("a max-pool with 'same' padding");
  const pool = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize as number | [number, number],
    attrs.strides as number | [number, number],
    1,
    pad,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { top, bottom, left, right } = pool.padInfo;
  const value = t.b.node('MaxPool', [t.value(x, 'nchw')], {
    kernel_shape: ints([pool.filterHeight, pool.filterWidth]),
    strides: ints([pool.strideHeight, pool.strideWidth]),
    pads: ints([top, left, bottom, right]),
  });
  return t.output({ shape: [...pool.outShape], layout: 'nchw', value });
});

/**
 * `tf.image.resizeNearestNeighbor` without corner alignment or half-pixel centres, i.e. PyTorch's 'nearest'
 * (source = floor(dst * in / out)): ONNX `Resize` (nearest, asymmetric, floor). The target size is read at run
 * time from the activation of that traced size (the FPN's finer lateral), so the graph keeps any image size.
 */
register('ResizeNearestNeighbor', (t, inputs, attrs) => {
  const x = t.symOf(named(inputs, 'images'));
  if (attrs.alignCorners || attrs.halfPixelCenters) {
    throw new Error(
      'tracing a model into a graph: only a nearest resize without alignCorners/halfPixelCenters',
    );
  }
  const [height, width] = attrs.size as [number, number];
  const [n, , , channels] = x.shape;
  let spatial: Value;
  const like = t.activationOfSize(n, height, width);
  if (like) {
    spatial = t.b.node('Slice', [
      t.b.node('Shape', [t.value(like, 'nchw')]),
      t.b.int64Values([2]),
      t.b.int64Values([4]),
    ]);
  } else {
    t.requireFixedSize(`a resize to ${height}x${width}`);
    spatial = t.b.int64Values([height, width]);
  }
  const stored = t.value(x, 'nchw');
  const leading = t.b.node('Slice', [
    t.b.node('Shape', [stored]),
    t.b.int64Values([0]),
    t.b.int64Values([2]),
  ]);
  const sizes = t.b.node('Concat', [leading, spatial], { axis: int(0) });
  const value = t.b.node('Resize', [stored, '', '', sizes], {
    mode: { kind: 'string', value: 'nearest' },
    coordinate_transformation_mode: { kind: 'string', value: 'asymmetric' },
    nearest_mode: { kind: 'string', value: 'floor' },
  });
  return t.output({ shape: [n, height, width, channels], layout: 'nchw', value });
});

/**
 * A transpose (the R-CNN box head's NHWC -> NCHW before flattening in PyTorch's order): written on the logical
 * order, the result kept 'plain' (its axes are no longer an image's).
 */
register('Transpose', (t, inputs, attrs) => {
  const x = t.symOf(named(inputs, 'x'));
  const perm = attrs.perm as number[];
  const value = t.b.node('Transpose', [t.value(x, 'plain')], { perm: ints(perm) });
  return t.output({ shape: perm.map((axis) => x.shape[axis]), layout: 'plain', value });
});
