/**
 * `GraphTracer`: records a TF.js forward pass as ONNX nodes. Symbolic tensors carry TF.js's logical layout
 * (NHWC images, NWC sequences) while their graph values are stored the ONNX way (NCHW, NCW), so the recorded ops
 * translate axes; a value is converted between the two only where an op needs it (a reshape of a spatial map).
 * Primitive layers are written by `primitives.ts` (through the module hook), the ops between them by `kernels.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Conv2d } from '../../nn/conv.js';
import type { Module } from '../../nn/module.js';
import type { ModuleTracer } from '../../nn/trace-hook.js';
import type { OnnxBuilder, Value } from '../builder.js';
import type { ConvWeightOverride } from '../nn.js';
import { type TracedConstant, traceBackend } from './backend.js';

/** How a value's logical (TF.js) axes are stored in the graph. */
export type Layout = 'nchw' | 'ncw' | 'plain';

/** physical axis i holds logical axis PERM[layout][i]. */
const PERM: Record<Exclude<Layout, 'plain'>, number[]> = { nchw: [0, 3, 1, 2], ncw: [0, 2, 1] };

/** A conv recorded but not yet written: a BatchNorm that follows it folds into it (inference graphs). */
export interface PendingConv {
  input: Value;
  conv: Conv2d;
  override: ConvWeightOverride | null;
}

/** What the tracer knows of one symbolic tensor. */
export interface Sym {
  shape: number[];
  layout: Layout;
  /** The graph value (null until a pending conv or a constant is written). */
  value: Value | null;
  pending?: PendingConv;
  constant?: TracedConstant;
}

/** Writes a primitive layer call; see primitives.ts. */
export type PrimitiveWriter = (tracer: GraphTracer, module: Module, inputs: Sym[], detail: unknown) => Sym;

/** The natural layout of a logical rank: images NCHW, sequences NCW, the rest as they are. */
export function layoutOfRank(rank: number): Layout {
  return rank === 4 ? 'nchw' : rank === 3 ? 'ncw' : 'plain';
}

/** The physical position of logical axis `axis`. */
export function physicalAxis(layout: Layout, axis: number): number {
  return layout === 'plain' ? axis : PERM[layout].indexOf(axis);
}

/** Logical dims in physical order. */
export function physicalDims(layout: Layout, shape: readonly number[]): number[] {
  return layout === 'plain' ? [...shape] : PERM[layout].map((axis) => shape[axis]);
}

/** Whether storing `shape` in `layout` keeps the logical element order (the moved axes are all of size 1). */
export function orderPreserving(layout: Layout, shape: readonly number[]): boolean {
  if (layout === 'plain') return true;
  const moved = PERM[layout].filter((axis) => shape[axis] !== 1);
  return moved.every((axis, i) => i === 0 || moved[i - 1] < axis);
}

export interface GraphTracerOptions {
  /** Whether the graph's height and width are fixed (false: any size, so no op may bake in a spatial size). */
  fixedSize: boolean;
  /** The traced batch size (dimension 0 of every activation). */
  batch: number;
  /** How each primitive layer class is written. */
  primitives: ReadonlyMap<abstract new (...args: never[]) => Module, PrimitiveWriter>;
}

export class GraphTracer implements ModuleTracer {
  private readonly syms = new WeakMap<tf.DataId, Sym>();
  /** The latest activation at each spatial size: what a zero state of that size takes its run-time shape from. */
  private readonly latestBySize = new Map<string, Sym>();
  private constants = 0;

  constructor(
    readonly b: OnnxBuilder,
    readonly options: GraphTracerOptions,
  ) {}

  /** A symbolic tensor for a graph value. */
  tensor(sym: Sym): tf.Tensor {
    return tf.engine().makeTensorFromTensorInfo(this.output(sym), traceBackend());
  }

  /** The output tensor info of a kernel (the sym registered under a fresh data id). */
  output(sym: Sym): tf.TensorInfo {
    const dataId = traceBackend().newDataId();
    this.syms.set(dataId, sym);
    if (sym.shape.length === 4 && sym.value !== null) this.latestBySize.set(spatialKey(sym.shape), sym);
    return { dataId, shape: sym.shape, dtype: 'float32' };
  }

  /** A sym of a graph value stored in the natural layout of its rank. */
  sym(value: Value, shape: number[]): Sym {
    return { shape, layout: layoutOfRank(shape.length), value };
  }

  /** What the tracer knows of a tensor reaching a traced op. */
  symOf(t: tf.TensorInfo): Sym {
    const known = this.syms.get(t.dataId);
    if (known) return known;
    const info = tf.engine().state.tensorInfo.get(t.dataId);
    if (info && info.backend !== traceBackend()) {
      throw new Error(
        `tracing a model into a graph: a real tensor of shape [${t.shape}] reached a TF.js op between layers ` +
          '(a parameter used outside its layer?); give that layer a graph writer in src/onnx/trace/primitives.ts',
      );
    }
    const constant = traceBackend().constantOf(t.dataId);
    if (!constant) throw new Error(`tracing a model into a graph: unknown tensor of shape [${t.shape}]`);
    const sym: Sym = {
      shape: constant.shape,
      layout: layoutOfRank(constant.shape.length),
      value: null,
      constant,
    };
    this.syms.set(t.dataId, sym);
    return sym;
  }

  /** ModuleTracer: a primitive layer call. */
  call(module: Module, inputs: readonly tf.Tensor[], detail?: unknown): tf.Tensor {
    let writer: PrimitiveWriter | undefined;
    for (const [type, write] of this.options.primitives) if (module instanceof type) writer = write;
    if (!writer) {
      throw new Error(`tracing a model into a graph: no graph writer for layer ${module.constructor.name}`);
    }
    return this.tensor(
      writer(
        this,
        module,
        inputs.map((input) => this.symOf(input)),
        detail,
      ),
    );
  }

  /** The graph value of `sym` stored in `layout` (default: its natural one), writing what is pending. */
  value(sym: Sym, layout: Layout = layoutOfRank(sym.shape.length)): Value {
    const own = this.ownValue(sym);
    // A single-value constant is written as a scalar, which broadcasts against any layout as it stands.
    if (sym.layout === layout || sym.constant?.values.length === 1) return own;
    return this.convert(own, sym.shape, sym.layout, layout);
  }

  private ownValue(sym: Sym): Value {
    if (sym.value !== null) return sym.value;
    if (sym.pending) {
      const { input, conv, override } = sym.pending;
      sym.value = this.writeConv(input, conv, override);
      return sym.value;
    }
    if (sym.constant) {
      sym.value = this.constantValue(sym.constant, sym.layout);
      return sym.value;
    }
    throw new Error('tracing a model into a graph: a tensor has no value');
  }

  /** Set by primitives.ts: writes a conv (without a BatchNorm). */
  writeConv: (input: Value, conv: Conv2d, override: ConvWeightOverride | null) => Value = () => {
    throw new Error('no conv writer');
  };

  /**
   * A constant in `layout`. An all-zero image-shaped constant with the batch in front is the RLA state's
   * starting value: it takes its run-time shape from the latest activation of its size, so the graph serves any
   * batch and image size.
   */
  private constantValue(constant: TracedConstant, layout: Layout): Value {
    const { values, shape } = constant;
    const size = values.length;
    if (size === 1) return this.b.floatValues([values[0]], []);
    if (shape.length === 4 && shape[0] === this.options.batch && values.every((v) => v === 0)) {
      const like = this.activationOfSize(shape[0], shape[1], shape[2]);
      if (like) {
        const zeros = this.b.scoped('zero_state', () => {
          const runtimeShape = this.b.node('Add', [
            this.b.node('Mul', [
              this.b.node('Shape', [this.value(like, 'nchw')]),
              this.b.int64Values([1, 0, 1, 1]),
            ]),
            this.b.int64Values([0, shape[3], 0, 0]),
          ]);
          return this.b.node('ConstantOfShape', [runtimeShape]);
        });
        return layout === 'nchw' ? zeros : this.convert(zeros, shape, 'nchw', layout);
      }
    }
    if (!this.options.fixedSize && shape.length === 4) {
      throw new Error(
        `tracing a model into a graph: a constant of shape [${shape}] fixes the image size; export with a fixed inputSize`,
      );
    }
    const dims = physicalDims(layout, shape);
    const data = layout === 'plain' ? values : transposeValues(values, shape, PERM[layout]);
    return this.b.floatConstant(`trace-constant:${this.constants++}`, 'const', dims, () => data);
  }

  /** Converts a stored value between layouts: a Reshape where the element order allows, else a Transpose. */
  convert(value: Value, shape: readonly number[], from: Layout, to: Layout): Value {
    if (from === to) return value;
    if (from !== 'plain' && to !== 'plain')
      return this.convert(this.convert(value, shape, from, 'plain'), shape, 'plain', to);
    const stored = from === 'plain' ? to : from;
    if (orderPreserving(stored, shape)) {
      const dims = to === 'plain' ? [...shape] : physicalDims(to, shape);
      return this.b.node('Reshape', [value, this.b.int64Values([0, ...dims.slice(1)])]);
    }
    const perm = PERM[stored as Exclude<Layout, 'plain'>];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return this.b.node('Transpose', [value], {
      perm: { kind: 'ints', value: from === 'plain' ? perm : inverse },
    });
  }

  /**
   * The latest written activation of batch `n` and spatial size `height` x `width`: its run-time shape is the
   * one an op of that traced size has in a graph of any size (a zero state, a resize to a sibling's size).
   */
  activationOfSize(n: number, height: number, width: number): Sym | undefined {
    return this.latestBySize.get(spatialKey([n, height, width]));
  }

  /** Refuses an op that would fix a spatial size into a graph meant for any size. */
  requireFixedSize(what: string): void {
    if (!this.options.fixedSize) {
      throw new Error(
        `tracing a model into a graph: ${what} fixes the image size; export with a fixed inputSize`,
      );
    }
  }
}

function spatialKey(shape: readonly number[]): string {
  return `${shape[0]}x${shape[1]}x${shape[2]}`;
}

/** `values` of logical `shape` rearranged so that output axis i is input axis perm[i]. */
function transposeValues(
  values: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): Float32Array {
  const outShape = perm.map((axis) => shape[axis]);
  const inStrides = strides(shape);
  const out = new Float32Array(values.length);
  const index = new Array(outShape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let source = 0;
    for (let i = 0; i < perm.length; i++) source += index[i] * inStrides[perm[i]];
    out[o] = values[source];
    for (let i = outShape.length - 1; i >= 0; i--) {
      if (++index[i] < outShape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

function strides(shape: readonly number[]): number[] {
  const result = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) result[i] = result[i + 1] * shape[i + 1];
  return result;
}
