/**
 * Batch-last activations across the small-map stages of a training step: a layout plan made once shapes are
 * known, before the conv rewrites (which read it), and applied after them.
 *
 * The rewritten convs compute on [C, H, W, N] data (im2col-convs.ts: the taps' slices copy runs of N values) and
 * ONNX Runtime's Transposes to and from NCHW around each of them, and their adjoints, were 193 nodes and 66 ms of
 * the CIFAR case's 770 ms step. A batch-last value holds [C, H, W, N] data and the graph views it as
 * [1, C, H, W * N]. On that view every op that treats the channels alike computes what it computed on
 * [N, C, H, W]: elementwise ops whose other operands are per channel or scalar, BatchNormalization (channel axis
 * 1), reductions over axes 0, 2 and 3, Concat and Split along the channels, Size. So BatchNorm (forward and its
 * closed-form backward), ReLU, the residual adds and the RLA concatenations run unchanged on it, the gradient
 * rules derive their adjoints on it from the shapes, and the rewritten convs read and write it through free
 * Reshapes. Per-channel loops also get longer: BatchNormalization on a 4x4 map walks 16 values per image and
 * channel in NCHW, 16 * N batch-last.
 *
 * Values joined by such ops must share a layout (a component). A component goes batch-last where that saves more
 * than it costs, counted in elements moved: saved, the Transposes at the im2col convs that read or write it;
 * added, a conversion for each of its values that another op reads (pooling, convolutions ONNX Runtime runs
 * itself, the head) or writes. Product convs (single-tap and whole-map rewrites) compute in either layout, the
 * same for input and output, so they join their input's and output's components.
 */

import { numel } from '../../util/shape.js';
import { ints, type OnnxBuilder, type Value } from '../builder.js';
import type { NodeProto } from '../onnx-proto.js';
import { reductionAxes } from '../training-layers.js';
import { type ShapeRecorder, shapeRecorder } from './shape-probe.js';

/**
 * How a conv rewrite takes layouts: 'product' computes in either (its input's and output's the same), 'im2col'
 * reads and writes [C, H, W, N] data (a Transpose from and to NCHW, a view from and to batch-last).
 */
export type RewriteKind = 'product' | 'im2col';

/** Which activations are batch-last, and the ops that need them converted (see the module comment). */
export interface BatchLastPlan {
  /** Activations stored as [C, H, W, N] data viewed as [1, C, H, W * N]. */
  readonly values: ReadonlySet<Value>;
  /** Per batch-last value: the node that writes it in NCHW (converted after it), if not a layout-aware op. */
  readonly producers: ReadonlyMap<Value, NodeProto>;
  /** Per batch-last value: the nodes that read it in NCHW (fed a converted copy). */
  readonly consumers: ReadonlyMap<Value, NodeProto[]>;
}

/** No value batch-last (the rewrites' layout when no plan is made). */
export const NO_BATCH_LAST: BatchLastPlan = { values: new Set(), producers: new Map(), consumers: new Map() };

/** Ops computed elementwise with numpy broadcasting. */
const ELEMENTWISE = new Set([
  'Relu',
  'LeakyRelu',
  'Tanh',
  'Sigmoid',
  'Clip',
  'Neg',
  'Sqrt',
  'Reciprocal',
  'Identity',
  'Add',
  'Sub',
  'Mul',
  'Div',
]);

const REDUCTIONS = new Set(['ReduceMean', 'ReduceSum', 'ReduceSumSquare']);

/** [1, C, H, W * N]: how the graph views a batch-last value of NCHW shape `shape`. */
export function batchLastView([n, c, h, w]: readonly number[]): number[] {
  return [1, c, h, w * n];
}

/**
 * `x` (NCHW shape `shape`) as [C, H, W, N] data: a view of a batch-last value, a Transpose of an NCHW one.
 */
export function channelMajor(
  b: OnnxBuilder,
  record: ShapeRecorder,
  x: Value,
  [n, c, h, w]: readonly number[],
  batchLast: boolean,
): Value {
  const shape = [c, h, w, n];
  if (batchLast) return record(b.node('Reshape', [x, b.int64Values(shape)]), shape);
  return record(b.node('Transpose', [x], { perm: ints([1, 2, 3, 0]) }), shape);
}

/**
 * [C, H, W, N] data (`data`, any view of it) as a value of NCHW shape `shape` in the given layout: a view when
 * batch-last, a Transpose otherwise. Its last node writes the result (conv rewrites return it as their output).
 */
export function fromChannelMajor(
  b: OnnxBuilder,
  record: ShapeRecorder,
  data: Value,
  [n, c, h, w]: readonly number[],
  batchLast: boolean,
): Value {
  if (batchLast) return b.node('Reshape', [data, b.int64Values(batchLastView([n, c, h, w]))]);
  const maps = record(b.node('Reshape', [data, b.int64Values([c, h, w, n])]), [c, h, w, n]);
  return b.node('Transpose', [maps], { perm: ints([3, 0, 1, 2]) });
}

/** Whether `shape` broadcasts against [N, C, H, W] as one value per channel (or one value). */
function perChannel(shape: readonly number[] | undefined): boolean {
  if (!shape || shape.length > 4) return false;
  const channelAxis = shape.length - 3;
  return shape.every((d, i) => d === 1 || i === channelAxis);
}

function sameShape(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((d, i) => d === b[i]);
}

/** What `plan` needs to know of the graph. */
export interface PlanInputs {
  shapes: ReadonlyMap<Value, number[]>;
  batch: number;
  /** Graph inputs whose first axis is the batch: activations are the values computed from them. */
  batchInputs: readonly Value[];
  /** The rewrite that will take a conv node, if any (the rewrites' own predicates, same limits). */
  rewriteOf: (node: NodeProto) => RewriteKind | null;
}

/** Decides which activations of the forward in `b` go batch-last (see the module comment). */
export function planBatchLast(b: OnnxBuilder, inputs: PlanInputs): BatchLastPlan {
  const { shapes, batch, rewriteOf } = inputs;
  if (batch < 2) return NO_BATCH_LAST;
  const nodes = b.nodeList;
  const activations = new Set<Value>(inputs.batchInputs);
  for (const node of nodes) {
    if (node.inputs.some((input) => activations.has(input))) for (const o of node.outputs) activations.add(o);
  }
  const full = (value: Value) => {
    const shape = shapes.get(value);
    return activations.has(value) && shape?.length === 4 && shape[0] === batch;
  };
  const parent = new Map<Value, Value>();
  const find = (value: Value): Value => {
    let root = value;
    while (parent.has(root)) root = parent.get(root) as Value;
    return root;
  };
  const union = (values: Value[]) => {
    const roots = [...new Set(values.map(find))];
    for (const root of roots.slice(1)) parent.set(root, roots[0]);
  };
  const inRegion = new Set<number>();
  for (const region of b.regions) for (let i = region.firstNode; i < region.endNode; i++) inRegion.add(i);

  const producers = new Map<Value, NodeProto>();
  const consumers = new Map<Value, NodeProto[]>();
  const produced = new Set<Value>();
  const pinned = new Set<Value>();
  /** Elements moved by the im2col convs' Transposes if the value stays NCHW. */
  const saved = new Map<Value, number>();
  const size = (value: Value) => numel(shapes.get(value) as number[]);
  nodes.forEach((node, index) => {
    const fullInputs = node.inputs.filter(full);
    const fullOutputs = node.outputs.filter(full);
    for (const output of node.outputs) produced.add(output);
    if (fullInputs.length === 0 && fullOutputs.length === 0) return;
    const kind = node.opType === 'Conv' ? rewriteOf(node) : null;
    if (kind === 'product') {
      union([node.inputs[0], node.outputs[0]]);
      return;
    }
    if (kind === 'im2col') {
      saved.set(node.inputs[0], (saved.get(node.inputs[0]) ?? 0) + size(node.inputs[0]));
      saved.set(node.outputs[0], (saved.get(node.outputs[0]) ?? 0) + size(node.outputs[0]));
      return;
    }
    // Shapes are static here: a Shape node is replaced by its value, a ConstantOfShape writes either layout.
    if (node.opType === 'Shape' || node.opType === 'ConstantOfShape') return;
    if (transparent(b, node, full, (value) => shapes.get(value))) {
      union([...fullInputs, ...fullOutputs]);
      return;
    }
    for (const input of fullInputs) {
      const list = consumers.get(input) ?? [];
      if (!list.includes(node)) list.push(node);
      consumers.set(input, list);
      if (inRegion.has(index)) pinned.add(input);
    }
    for (const output of fullOutputs) {
      producers.set(output, node);
      if (inRegion.has(index)) pinned.add(output);
    }
  });
  for (const output of b.outputNames) pinned.add(output);

  const components = new Map<Value, { values: Value[]; saved: number; cost: number; pinned: boolean }>();
  for (const value of activations) {
    if (!full(value)) continue;
    const root = find(value);
    const component = components.get(root) ?? { values: [], saved: 0, cost: 0, pinned: false };
    component.values.push(value);
    component.saved += saved.get(value) ?? 0;
    if (producers.has(value) || consumers.has(value)) component.cost += size(value);
    // A graph input (no node writes it) stays as fed.
    if (pinned.has(value) || !produced.has(value)) component.pinned = true;
    components.set(root, component);
  }
  const values = new Set<Value>();
  for (const component of components.values()) {
    if (component.pinned || component.cost >= component.saved) continue;
    for (const value of component.values) values.add(value);
  }
  const only = <T>(map: Map<Value, T>) => new Map([...map].filter(([value]) => values.has(value)));
  return { values, producers: only(producers), consumers: only(consumers) };
}

/** Whether `node` computes the same on the batch-last view of its activations (see the module comment). */
function transparent(
  b: OnnxBuilder,
  node: NodeProto,
  full: (value: Value) => boolean,
  shapeOf: (value: Value) => readonly number[] | undefined,
): boolean {
  // Size reads only the element count; every other op's outputs must be floats whose shapes were probed.
  if (node.opType === 'Size') return true;
  if (!node.outputs.every((output) => shapeOf(output) !== undefined)) return false;
  const axis = () => {
    const attribute = node.attributes.axis;
    const value = attribute?.kind === 'int' ? attribute.value : 0;
    return value < 0 ? value + 4 : value;
  };
  switch (node.opType) {
    case 'BatchNormalization':
      return node.outputs.length === 1 && full(node.inputs[0]) && full(node.outputs[0]);
    case 'Concat':
      return axis() === 1 && [...node.inputs, ...node.outputs].every(full);
    case 'Split':
      return axis() === 1 && [node.inputs[0], ...node.outputs].every(full);
    default:
      break;
  }
  if (REDUCTIONS.has(node.opType)) {
    const keep = node.attributes.keepdims;
    const axes = reductionAxes(b, node, 4)?.sort();
    return (
      full(node.inputs[0]) &&
      (keep === undefined || (keep.kind === 'int' && keep.value === 1)) &&
      axes?.join(',') === '0,2,3'
    );
  }
  if (!ELEMENTWISE.has(node.opType) || node.outputs.length !== 1 || !full(node.outputs[0])) return false;
  const outputShape = shapeOf(node.outputs[0]);
  return node.inputs.every((input) =>
    input === '' ? true : full(input) ? sameShape(shapeOf(input), outputShape) : perChannel(shapeOf(input)),
  );
}

/**
 * Applies `plan` to `b` after the conv rewrites: converts the batch-last values that other ops write or read
 * (a Transpose and a free Reshape each), gives Shape and ConstantOfShape nodes their static values, and records
 * the batch-last values' shapes as their view.
 */
export function applyBatchLast(b: OnnxBuilder, shapes: Map<Value, number[]>, plan: BatchLastPlan): void {
  if (plan.values.size === 0) return;
  const record = shapeRecorder(shapes);
  // Shapes are static: a ConstantOfShape writes a batch-last value's view, and the consumers of a Shape node of
  // a batch-last value take the (NCHW) shape it had.
  const shapeValues = new Map<Value, Value>();
  for (const node of b.nodeList) {
    if (node.opType === 'ConstantOfShape' && plan.values.has(node.outputs[0]))
      node.inputs[0] = b.int64Values(batchLastView(shapes.get(node.outputs[0]) as number[]));
    if (node.opType === 'Shape' && plan.values.has(node.inputs[0]))
      shapeValues.set(node.outputs[0], b.int64Values(shapes.get(node.inputs[0]) as number[]));
  }
  for (const node of b.nodeList) {
    node.inputs.forEach((input, i) => {
      const constant = shapeValues.get(input);
      if (constant) node.inputs[i] = constant;
    });
  }
  for (const value of plan.values) {
    const shape = shapes.get(value) as number[];
    const producer = plan.producers.get(value);
    let nchw: Value | undefined;
    if (producer) {
      nchw = b.uniqueName(`${value}:nchw`);
      producer.outputs[producer.outputs.indexOf(value)] = nchw;
      record(nchw, shape);
      const at = b.nodeList.indexOf(producer) + 1;
      b.insertNodes(at, value, () =>
        b.scoped(`${producer.name}:batch-last`, () => {
          const data = channelMajor(b, record, nchw as Value, shape, false);
          return b.node('Reshape', [data, b.int64Values(batchLastView(shape))]);
        }),
      );
    }
    const readers = plan.consumers.get(value) ?? [];
    if (readers.length > 0 && !nchw) {
      const at = Math.min(...readers.map((reader) => b.nodeList.indexOf(reader)));
      nchw = b.insertNodes(at, undefined, () =>
        b.scoped(`${value}:nchw`, () => fromChannelMajor(b, record, value, shape, false)),
      );
      record(nchw, shape);
    }
    for (const reader of readers) {
      reader.inputs.forEach((input, i) => {
        if (input === value) reader.inputs[i] = nchw as Value;
      });
    }
    record(value, batchLastView(shape));
  }
}
