/**
 * `OrtTrainer`: runs a model's training step graph (graph.ts) on ONNX Runtime. Parameters, momentum buffers and
 * BN running statistics live in JS-side Float32Arrays (PyTorch layout) between steps: each step feeds them as
 * input tensors (no copy: ONNX Runtime reads the arrays in place) and has ONNX Runtime write the next values
 * back into the same arrays (pre-allocated outputs; the graph's update is an `If` on a finite loss, so a
 * non-finite loss leaves them untouched). What crosses per step is thus only the batch, the targets, the loss and
 * the logits (and the copies onnxruntime-node makes of every output anyway, freed at once). The TF.js model and optimizer are
 * brought up to date by `pull` (before evaluation or checkpoints) and read by `push` (at start or resume).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as ort from 'onnxruntime-node';
import type { ClassifierModel } from '../../models/classifier.js';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import type { Buffer, Parameter } from '../../nn/module.js';
import { fromTorchLayout, toTorchLayout } from '../../nn/tensor-layout.js';
import type { SGD } from '../../train/sgd.js';
import { holdHeapTop, releaseArrayBuffers } from '../../util/release-buffers.js';
import { numel } from '../../util/shape.js';
import type { StateInput } from '../builder.js';
import { encodeModel, type ModelProto, type NodeProto } from '../onnx-proto.js';
import { loadOnnxRuntime } from '../session.js';
import { applyBatchLast, NO_BATCH_LAST, planBatchLast, type RewriteKind } from './batch-last.js';
import {
  buildTrainingForward,
  finishTrainingGraph,
  gradName,
  momentumName,
  nextName,
  TRAIN_IO,
  type TrainingGraph,
  type TrainingGraphOptions,
} from './graph.js';
import { type Im2colLimits, isIm2colConv, rewriteIm2colConvs } from './im2col-convs.js';
import { probeShapes } from './shape-probe.js';
import {
  rewriteSingleTapConvs,
  rewriteWholeMapConvs,
  singleTap,
  type WholeMapLimits,
  wholeMapTaps,
} from './whole-map-convs.js';

export interface OrtTrainerOptions {
  /** Intra-op threads (default: ONNX Runtime's choice, one per core). */
  threads?: number;
  /** Label smoothing of the cross-entropy (default 0). */
  labelSmoothing?: number;
  /**
   * ONNX Runtime graph optimizations (default 'all'). Session creation grows with the graph (about 20 s for
   * ResNet-110's 17k-node step at 'all', 11 s at 'basic'); 'basic' suits short runs and tests.
   */
  optimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * ONNX Runtime's CPU memory arena (default true). Off, the 224x224 rla_resnet50 batch-16 step peaks at 4.8 GB
   * instead of 7.1 GB but runs 27% slower (1.8 vs 2.5 img/s: freed memory is faulted in again every step).
   */
  memoryArena?: boolean;
  /**
   * ONNX Runtime's memory pattern (default false). On, the first run's per-tensor arena blocks stay cached in
   * the arena while every later run allocates the planned pattern as one more block: the CIFAR case's step
   * (rla_resnet50 [3,3,3,3], batch 128, 32x32) peaks at 1.80 GB instead of 1.27 GB.
   */
  memoryPattern?: boolean;
  /** Write ONNX Runtime's own profile (JSON, per-op times) with this file name prefix (performance work). */
  profilePrefix?: string;
  /**
   * Which convolutions on small maps run as one product over the batch (see whole-map-convs.ts); false: none.
   * Default {@link DEFAULT_WHOLE_MAP_LIMITS}.
   */
  wholeMapConvs?: WholeMapLimits | false;
  /**
   * Which other convolutions on small maps run as one im2col and one product over the batch (see
   * im2col-convs.ts); false: none. Default {@link DEFAULT_IM2COL_LIMITS}.
   */
  im2colConvs?: Im2colLimits | false;
  /**
   * Keep activations batch-last between the rewritten convolutions where that saves Transposes (default true;
   * see batch-last.ts).
   */
  batchLast?: boolean;
}

/** Chosen by measurement of the training step (docs/training-ort.md). */
export const DEFAULT_WHOLE_MAP_LIMITS: WholeMapLimits = { maxOutputPixels: 4, maxWaste: 1 };

/** Chosen by measurement of the training step (docs/training-ort.md). */
export const DEFAULT_IM2COL_LIMITS: Im2colLimits = { maxOutputPixels: 196, maxPointwiseOutputPixels: 64 };

/** What one step returns. */
export interface OrtStepOutput {
  loss: number;
  /** [N, classes] row-major. */
  logits: Float32Array;
  /** d(loss)/d(parameter) by official key, PyTorch layout (when asked for). */
  gradients?: Map<string, Float32Array>;
}

/**
 * One value the step reads and rewrites in place: fed as `input` and fetched as `output` from the same array (the
 * graph's update is an `If` on a finite loss that runs after every node reading the old value).
 */
interface Slot {
  input: string;
  output: string;
  /** Shape of the input; the output is flat ([numel]) for parameters and momentum buffers. */
  dims: number[];
  outputDims: number[];
  current: Float32Array;
}

/** A compiled step graph for one batch size. */
interface CompiledStep {
  session: ort.InferenceSession;
  graph: TrainingGraph;
}

export class OrtTrainer {
  /** Compiled steps by batch size (and whether they output gradients). */
  private readonly steps = new Map<string, CompiledStep>();
  private readonly slots = new Map<string, Slot>();
  /** Parameters the loss does not reach (fed as they are). */
  private readonly fixed = new Map<string, Float32Array>();
  private readonly holders = new Map<string, StateInput>();
  /** Steps applied since the last `pull` (BatchNorm's num_batches_tracked advances by this much). */
  private unpulledSteps = 0;
  /** Steps run (any batch size). */
  private runs = 0;
  /** Whether the momentum buffers hold values (PyTorch creates them on the first step). */
  private hasMomentum = false;

  private constructor(
    private readonly runtime: typeof ort,
    readonly model: ClassifierModel,
    private readonly optimizer: SGD,
    private readonly height: number,
    private readonly width: number,
    private readonly options: OrtTrainerOptions,
  ) {}

  /** A trainer for `model` and its optimizer's hyper-parameters at input size height x width. */
  static async create(
    model: ClassifierModel,
    optimizer: SGD,
    height: number,
    width: number,
    options: OrtTrainerOptions = {},
  ): Promise<OrtTrainer> {
    if (optimizer.dampening !== 0) {
      throw new Error(`the ort engine trains with dampening 0 only (got ${optimizer.dampening})`);
    }
    const smoothing = options.labelSmoothing ?? 0;
    if (!(smoothing >= 0 && smoothing < 1))
      throw new Error(`labelSmoothing must be in [0, 1), got ${smoothing}`);
    const trainer = new OrtTrainer(await loadOnnxRuntime(), model, optimizer, height, width, options);
    return trainer;
  }

  private graphOptions(batchSize: number, gradientOutputs: boolean): TrainingGraphOptions {
    const { momentum, weightDecay, nesterov } = this.optimizer;
    const sgd = { momentum, weightDecay, nesterov };
    return { batchSize, height: this.height, width: this.width, sgd, gradientOutputs };
  }

  private sessionOptions(): ort.InferenceSession.SessionOptions {
    const options: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: this.options.optimizationLevel ?? 'all',
      executionMode: 'sequential',
      interOpNumThreads: 1,
      // Warnings only (the default prints every unused shape constant of the backward pass at load).
      logSeverityLevel: 3,
    };
    if (this.options.memoryArena === false) options.enableCpuMemArena = false;
    if (this.options.memoryPattern !== true) options.enableMemPattern = false;
    if (this.options.threads !== undefined) options.intraOpNumThreads = this.options.threads;
    if (this.options.profilePrefix) {
      options.enableProfiling = true;
      options.profileFilePrefix = this.options.profilePrefix;
    }
    return options;
  }

  /**
   * Builds (once per batch size, and once more where gradients are asked for) the step graph: forward, shape
   * probe, backward, update, ORT session.
   */
  private async compiled(batchSize: number, gradientOutputs: boolean): Promise<CompiledStep> {
    const key = `${batchSize}${gradientOutputs ? ' with gradients' : ''}`;
    const existing = this.steps.get(key);
    if (existing) return existing;
    const options = this.graphOptions(batchSize, gradientOutputs);
    const forward = buildTrainingForward(this.model, options);
    const shapes = await this.probeShapes(forward, batchSize);
    const wholeMap = this.options.wholeMapConvs ?? DEFAULT_WHOLE_MAP_LIMITS;
    const im2col = this.options.im2colConvs ?? DEFAULT_IM2COL_LIMITS;
    // The rewrites below take convs in this order, each with its own predicate.
    const rewriteOf = (node: NodeProto): RewriteKind | null => {
      const shapeOf = (value: string) => shapes.get(value);
      if (singleTap(node, shapeOf)) return 'product';
      if (wholeMap && wholeMapTaps(node, shapeOf, wholeMap)) return 'product';
      return im2col && isIm2colConv(node, shapes, im2col) ? 'im2col' : null;
    };
    const layout =
      this.options.batchLast === false
        ? NO_BATCH_LAST
        : planBatchLast(forward.b, {
            shapes,
            batch: batchSize,
            batchInputs: batchInputs(forward),
            rewriteOf,
          });
    rewriteSingleTapConvs(forward.b, shapes, layout);
    if (wholeMap) rewriteWholeMapConvs(forward.b, shapes, wholeMap, layout);
    if (im2col) rewriteIm2colConvs(forward.b, shapes, im2col, layout);
    applyBatchLast(forward.b, shapes, layout);
    const graph = finishTrainingGraph(this.model, forward, options, (value) => {
      const shape = shapes.get(value);
      if (!shape) throw new Error(`training graph: no shape for ${value}`);
      return shape;
    });
    const session = await this.runtime.InferenceSession.create(
      encodeModel(graph.model),
      this.sessionOptions(),
    );
    const compiled = { session, graph };
    this.steps.set(key, compiled);
    if (this.slots.size === 0 && this.fixed.size === 0) this.adoptState(graph);
    return compiled;
  }

  /** Shapes of every float value of the training forward (zero images, unit masks; probed at batches 1, 2). */
  private async probeShapes(
    forward: ReturnType<typeof buildTrainingForward>,
    batchSize: number,
  ): Promise<Map<string, number[]>> {
    const T = this.runtime.Tensor;
    const filled = (dims: number[], value: number) =>
      new T('float32', new Float32Array(numel(dims)).fill(value), dims);
    const state = forward.b.stateInputs.map((s) => new T('float32', s.read(), s.dims));
    const feeds = (batch: number): Record<string, ort.Tensor> => {
      const result: Record<string, ort.Tensor> = {
        [TRAIN_IO.images]: filled([batch, this.height, this.width, 3], 0),
        [TRAIN_IO.target]: filled([batch, this.model.numClasses], 0),
      };
      forward.b.stateInputs.forEach((s, i) => {
        result[s.name] = state[i];
      });
      for (const random of forward.b.randomInputs)
        result[random.name] = filled([batch, ...random.dims.slice(1)], 1);
      return result;
    };
    return probeShapes(this.runtime, forward.b, {
      batch: batchSize,
      batchInputs: batchInputs(forward),
      feeds,
      threads: this.options.threads,
    });
  }

  /** Copies the model's parameters and buffers and the optimizer's momentum into the step's arrays. */
  private adoptState(graph: TrainingGraph): void {
    const momentum = this.optimizer.momentumBuffers();
    const index = new Map(this.optimizer.parameters.map((p, i) => [p as Parameter | Buffer, i]));
    const slot = (
      input: string,
      output: string,
      dims: number[],
      current: Float32Array,
      flat = true,
    ): void => {
      const outputDims = flat ? [current.length] : dims;
      this.slots.set(input, {
        input,
        output,
        dims,
        outputDims,
        current,
      });
    };
    this.hasMomentum = false;
    for (const p of graph.parameters) {
      this.holders.set(p.name, p);
      slot(p.name, nextName(p.name), p.dims, p.read());
      if (this.optimizer.momentum !== 0) {
        const i = index.get(p.holder);
        if (i === undefined) throw new Error(`parameter ${p.name} is not in the optimizer's parameter list`);
        const buffer = momentum[i];
        const values = buffer ? this.torchLayoutOf(p, buffer) : new Float32Array(p.read().length);
        if (buffer) this.hasMomentum = true;
        slot(momentumName(p.name), nextName(momentumName(p.name)), [values.length], values);
      }
    }
    for (const p of graph.frozen) {
      this.holders.set(p.name, p);
      this.fixed.set(p.name, p.read());
    }
    for (const buffer of graph.buffers) {
      this.holders.set(buffer.name, buffer);
      if (graph.updated.has(buffer.name))
        slot(buffer.name, nextName(buffer.name), buffer.dims, buffer.read());
      else this.fixed.set(buffer.name, buffer.read());
    }
  }

  /** A momentum buffer (native layout, like its parameter) in PyTorch layout. */
  private torchLayoutOf(p: StateInput, buffer: tf.Tensor): Float32Array {
    const parameter = p.holder as Parameter;
    const torch = toTorchLayout(buffer, parameter.layout);
    try {
      return Float32Array.from(torch.dataSync() as Float32Array);
    } finally {
      torch.dispose();
    }
  }

  /**
   * The step graph at a batch size, as ONNX Runtime runs it (built on first use, like `step`): to inspect or save
   * it (`encodeModel`).
   */
  async stepGraph(batchSize: number, options: { gradients?: boolean } = {}): Promise<ModelProto> {
    return (await this.compiled(batchSize, options.gradients === true)).graph.model;
  }

  /**
   * One SGD step on an NHWC batch ([N, H, W, 3] values) with integer labels at learning rate `lr`. A non-finite
   * loss leaves every parameter, buffer and momentum as it was.
   */
  async step(
    images: Float32Array,
    labels: Int32Array,
    lr: number,
    options: { gradients?: boolean } = {},
  ): Promise<OrtStepOutput> {
    const batchSize = labels.length;
    const { session, graph } = await this.compiled(batchSize, options.gradients === true);
    const T = this.runtime.Tensor;
    const classes = this.model.numClasses;
    const smoothing = this.options.labelSmoothing ?? 0;
    const target = new Float32Array(batchSize * classes).fill(smoothing / classes);
    labels.forEach((label, n) => {
      if (!(label >= 0 && label < classes)) throw new Error(`label ${label} out of range [0, ${classes})`);
      target[n * classes + label] += 1 - smoothing;
    });
    const feeds: Record<string, ort.Tensor> = {
      [TRAIN_IO.images]: new T('float32', images, [batchSize, this.height, this.width, 3]),
      [TRAIN_IO.target]: new T('float32', target, [batchSize, classes]),
      [TRAIN_IO.lr]: new T('float32', Float32Array.of(lr), []),
    };
    const fetches: Record<string, ort.Tensor> = {};
    for (const slot of this.slots.values()) {
      feeds[slot.input] = new T('float32', slot.current, slot.dims);
      fetches[slot.output] = new T('float32', slot.current, slot.outputDims);
    }
    for (const [name, values] of this.fixed)
      feeds[name] = new T('float32', values, this.holders.get(name)?.dims);
    for (const random of graph.randomInputs)
      feeds[random.name] = new T('float32', random.draw(), random.dims);
    const loss = new Float32Array(1);
    const logits = new Float32Array(batchSize * classes);
    fetches[TRAIN_IO.loss] = new T('float32', loss, []);
    fetches[TRAIN_IO.logits] = new T('float32', logits, [batchSize, classes]);
    const gradients = new Map<string, Float32Array>();
    if (options.gradients) {
      for (const p of graph.parameters) {
        const values = new Float32Array(numel(p.dims));
        gradients.set(p.name, values);
        fetches[gradName(p.name)] = new T('float32', values, p.dims);
      }
    }
    const results = await session.run(feeds, fetches);
    // From the second step on, the copies' sizes are under glibc's mmap threshold (holdHeapTop).
    releaseReturnedCopies(results, fetches, ++this.runs === 2);
    if (Number.isFinite(loss[0])) {
      this.unpulledSteps++;
      this.hasMomentum = true;
    }
    return options.gradients ? { loss: loss[0], logits, gradients } : { loss: loss[0], logits };
  }

  /** Writes the current parameters, BN statistics and momentum buffers into the TF.js model and optimizer. */
  pull(): void {
    for (const [name, holder] of this.holders) {
      const slot = this.slots.get(name);
      const values = slot ? slot.current : this.fixed.get(name);
      if (!values) continue;
      const torch = tf.tensor(values, holder.dims);
      if (holder.kind === 'parameter') {
        const parameter = holder.holder as Parameter;
        parameter.set(fromTorchLayout(torch, parameter.layout));
        torch.dispose();
      } else {
        holder.holder.set(torch);
      }
    }
    if (this.unpulledSteps > 0) {
      for (const [, module] of this.model.namedModules()) {
        if (module instanceof BatchNorm2d) {
          const tracked = module.numBatchesTracked;
          tracked.set(tf.tidy(() => tf.add(tracked.value, tf.scalar(this.unpulledSteps, 'int32'))));
        }
      }
      this.unpulledSteps = 0;
    }
    if (this.optimizer.momentum !== 0 && this.hasMomentum) {
      // Momentum values and their parameter's PyTorch shape, by parameter object.
      const byHolder = new Map<Parameter | Buffer, { values: Float32Array; dims: number[] }>();
      for (const [name, holder] of this.holders) {
        const slot = this.slots.get(momentumName(name));
        if (slot) byHolder.set(holder.holder, { values: slot.current, dims: holder.dims });
      }
      const buffers = this.optimizer.parameters.map((parameter) => {
        const momentum = byHolder.get(parameter);
        if (!momentum) return null;
        const torch = tf.tensor(momentum.values, momentum.dims);
        const native = fromTorchLayout(torch, parameter.layout);
        torch.dispose();
        return native;
      });
      this.optimizer.loadMomentumBuffers(buffers);
      tf.dispose(buffers.filter((b): b is tf.Tensor => b !== null));
    }
  }

  /** Re-reads parameters, buffers and momentum from the TF.js model and optimizer (after a resume). */
  push(): void {
    this.slots.clear();
    this.fixed.clear();
    this.holders.clear();
    this.unpulledSteps = 0;
    const any = this.steps.values().next();
    if (!any.done) this.adoptState(any.value.graph);
  }

  /** Frees the native sessions. */
  async release(): Promise<void> {
    for (const { session } of this.steps.values()) {
      if (this.options.profilePrefix) session.endProfiling();
      await session.release();
    }
    this.steps.clear();
  }
}

/** The step's inputs whose first axis is the batch. */
function batchInputs(forward: ReturnType<typeof buildTrainingForward>): string[] {
  return [TRAIN_IO.images, TRAIN_IO.target, ...forward.b.randomInputs.map((r) => r.name)];
}

/**
 * onnxruntime-node writes each output into its preallocated fetch and still returns a copy of it; the step reads
 * its own arrays, so the copies (the next parameters and momentum: twice the model's size) are freed at once
 * rather than left to V8's collector (measured: ~130 MB of the CIFAR case's peak RSS, docs/training-ort.md).
 */
function releaseReturnedCopies(
  results: Record<string, ort.Tensor>,
  fetches: Record<string, ort.Tensor>,
  holdHeap: boolean,
): void {
  const own = new Set(Object.values(fetches).map((t) => (t.data as Float32Array).buffer));
  const copies = Object.values(results)
    .map((t) => (t.data as Float32Array).buffer)
    .filter((buffer): buffer is ArrayBuffer => buffer instanceof ArrayBuffer && !own.has(buffer));
  if (holdHeap && copies.length > 0) holdHeapTop(Math.max(...copies.map((buffer) => buffer.byteLength)));
  releaseArrayBuffers(copies);
}
