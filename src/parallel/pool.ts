/**
 * Data-parallel training and batched inference over worker threads, each holding a model replica on its own
 * (single-threaded) wasm backend: the way to use every core from Node without tfjs-node.
 *
 * A training step shards the batch (nearly equal parts, in order), every worker runs forward + cross-entropy +
 * backward on its shard, the gradients are averaged through shared memory (exchange.ts; weighted by shard size,
 * so the result is the gradient of the whole batch's mean loss), and every worker applies the same SGD update to
 * identical weights, so the replicas stay bit-identical.
 *
 * BatchNorm, as in PyTorch DistributedDataParallel, normalises with each shard's own batch statistics. Running
 * statistics: DDP keeps rank 0's (broadcast before each forward); this pool instead averages every replica's
 * updated running_mean / running_var after each step (weighted like the gradients). Because the replicas start
 * each step with equal buffers, that is exactly the momentum update with the average of the shards' statistics:
 * running_mean follows the whole batch's mean; running_var the mean of the shards' unbiased variances.
 * `num_batches_tracked` advances identically everywhere.
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
// Results (logits, state dicts) are tensors in the main thread; the pure-JS backend is always there to hold them.
import '@tensorflow/tfjs-backend-cpu';
import type { ModelOptions } from '../models/registry.js';
import type { SGDOptions } from '../train/sgd.js';
import type { StepResult } from '../train/step.js';
import { checkPositiveInteger } from '../util/checks.js';
import { chunkRange, GradientExchange } from './exchange.js';
import type {
  BatchSlice,
  ExchangeLayout,
  MomentumBuffers,
  ShardResult,
  TransferredTensor,
} from './protocol.js';
import { WorkerHandle } from './worker-handle.js';

export { liveWorkerThreads, WorkerError } from './worker-handle.js';

/** How to build a pool. */
export interface WorkerPoolOptions {
  /** Registered model name, e.g. `rla_resnet50`. */
  model: string;
  /** Options for `createModel` (every replica gets the same). */
  options?: ModelOptions;
  /** Worker threads (default: one per core, `os.availableParallelism()`). */
  workers?: number;
  /** Backend of every worker (default `wasm`). */
  backend?: 'wasm' | 'cpu';
  /** SGD hyper-parameters (default: the official train.py, lr 0.1, momentum 0.9, weight decay 1e-4). */
  optimizer?: SGDOptions;
  /**
   * The module every worker thread runs (default: this package's `worker.js`). Tests pass a module that imports
   * it and adds faults, so that the production worker and its protocol carry no test hooks.
   */
  workerScript?: URL;
}

/** Images as a tensor or as raw NHWC float32 data with its shape. */
export type ImageBatch = tf.Tensor4D | { data: Float32Array; shape: [number, number, number, number] };

/** Class indices, one per image. */
export type LabelBatch = tf.Tensor1D | Int32Array | readonly number[];

export interface TrainStepOptions {
  /** Learning rate for this and later steps (default: unchanged). */
  lr?: number;
}

const DEFAULT_OPTIMIZER: SGDOptions = { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 };
const WORKER_SCRIPT = new URL('./worker.js', import.meta.url);

/** Sizes of `parts` nearly equal shards of `total` items, larger ones first. */
export function shardSizes(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => {
    const [begin, end] = chunkRange(total, parts, i);
    return end - begin;
  });
}

async function imageData(images: ImageBatch): Promise<{ data: Float32Array; shape: number[] }> {
  if (images instanceof tf.Tensor) {
    if (images.rank !== 4) throw new Error(`expected an NHWC image batch, got shape [${images.shape}]`);
    return { data: (await images.data()) as Float32Array, shape: images.shape };
  }
  if (images.data.length !== images.shape.reduce((p, d) => p * d, 1)) {
    throw new Error(
      `image data has ${images.data.length} values, shape [${images.shape}] needs another count`,
    );
  }
  return images;
}

async function labelData(labels: LabelBatch): Promise<Int32Array> {
  if (labels instanceof tf.Tensor) return Int32Array.from(await labels.data());
  return Int32Array.from(labels);
}

/** A pool of model replicas on worker threads. Build with `createWorkerPool`; always `close()` it. */
export class WorkerPool {
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;
  private exchange: GradientExchange | null = null;

  private constructor(
    private readonly handles: WorkerHandle[],
    readonly options: Readonly<WorkerPoolOptions>,
  ) {}

  /** Starts the workers, builds identical replicas (worker 0's initial weights are copied to the others). */
  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    const count = options.workers ?? availableParallelism();
    checkPositiveInteger('workers', count);
    let pool: WorkerPool | null = null;
    const handles: WorkerHandle[] = [];
    const onFailure = (error: Error) => pool?.fail(error);
    const script = options.workerScript ?? WORKER_SCRIPT;
    for (let i = 0; i < count; i++) handles.push(new WorkerHandle(i, script, onFailure));
    pool = new WorkerPool(handles, options);
    try {
      await pool.initialise();
      return pool;
    } catch (error) {
      await pool.close();
      throw error;
    }
  }

  /** Number of worker threads. */
  get size(): number {
    return this.handles.length;
  }

  private async initialise(): Promise<void> {
    const layouts = await Promise.all(
      this.handles.map((handle) =>
        handle.request<ExchangeLayout>({
          type: 'init',
          backend: this.options.backend ?? 'wasm',
          model: this.options.model,
          options: this.options.options ?? {},
          optimizer: this.options.optimizer ?? DEFAULT_OPTIMIZER,
        }),
      ),
    );
    const length = layouts[0].gradientSize + layouts[0].bufferSize;
    this.exchange = GradientExchange.allocate(this.size, length);
    const exchange = this.exchange.buffer;
    await Promise.all(
      this.handles.map((handle, slot) =>
        handle.request({ type: 'attachExchange', exchange, workers: this.size, slot }),
      ),
    );
    if (this.size > 1) {
      // Models built with a random seed differ; worker 0's weights become everyone's.
      const entries = await this.handles[0].request<TransferredTensor[]>({ type: 'getState' });
      await Promise.all(
        this.handles.slice(1).map((handle) => handle.request({ type: 'loadState', entries })),
      );
    }
  }

  /** Runs `operation` after every earlier one (the shared input buffers serve one call at a time). */
  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.failure) throw this.failure;
      if (this.closed) throw new Error('worker pool is closed');
      return operation();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Any worker crash ends the pool: pending calls reject and every thread is stopped (none is orphaned). */
  private fail(error: Error): void {
    if (this.failure || this.closed) return;
    this.failure = error;
    void this.close();
  }

  private slices(
    images: { data: Float32Array; shape: number[] },
    labels: Int32Array | null,
  ): Array<BatchSlice | null> {
    const [n, h, w, c] = images.shape;
    const imageBuffer = new SharedArrayBuffer(images.data.byteLength);
    new Float32Array(imageBuffer).set(images.data);
    let labelBuffer: SharedArrayBuffer | undefined;
    if (labels) {
      if (labels.length !== n) throw new Error(`${labels.length} labels for ${n} images`);
      labelBuffer = new SharedArrayBuffer(labels.byteLength);
      new Int32Array(labelBuffer).set(labels);
    }
    let begin = 0;
    return shardSizes(n, this.size).map((count) => {
      const slice: BatchSlice | null =
        count === 0
          ? null
          : { images: imageBuffer, labels: labelBuffer, imageShape: [h, w, c], begin, count };
      begin += count;
      return slice;
    });
  }

  /**
   * One data-parallel SGD step on a batch (NHWC images, class labels). When any shard's loss is not finite the
   * weights are left as they were (the running statistics are still averaged, so the replicas stay identical).
   */
  trainStep(images: ImageBatch, labels: LabelBatch, options: TrainStepOptions = {}): Promise<StepResult> {
    return this.enqueue(async () => {
      const data = await imageData(images);
      const slices = this.slices(data, await labelData(labels));
      const total = data.shape[0];
      const results = await Promise.all(
        this.handles.map((handle, w) => {
          const batch = slices[w];
          return batch ? handle.request<ShardResult>({ type: 'train', batch }) : Promise.resolve(null);
        }),
      );
      const weights = slices.map((slice) => (slice ? slice.count / total : 0));
      const length = this.exchange?.length ?? 0;
      await Promise.all(
        this.handles.map((handle, w) => {
          const [begin, end] = chunkRange(length, this.size, w);
          return handle.request({ type: 'reduce', begin, end, weights });
        }),
      );
      const computed = results.filter((r): r is ShardResult => r !== null);
      const hasGradient = computed[0].hasGradient.map((_, i) => computed.some((r) => r.hasGradient[i]));
      const loss = results.reduce((sum, r, w) => sum + (r ? r.loss * weights[w] : 0), 0);
      const updateParameters = Number.isFinite(loss);
      await Promise.all(
        this.handles.map((handle) =>
          handle.request({ type: 'apply', hasGradient, updateParameters, lr: options.lr }),
        ),
      );
      return {
        loss,
        correct1: computed.reduce((sum, r) => sum + r.correct1, 0),
        correct5: computed.reduce((sum, r) => sum + r.correct5, 0),
        count: total,
      };
    });
  }

  /** Logits [N, numClasses] in inference mode, the batch sharded over the workers (one worker for batch 1). */
  predict(images: ImageBatch): Promise<tf.Tensor2D> {
    return this.enqueue(async () => {
      const data = await imageData(images);
      const slices = this.slices(data, null);
      const parts = await Promise.all(
        this.handles.map((handle, w) => {
          const batch = slices[w];
          return batch ? handle.request<Float32Array>({ type: 'predict', batch }) : Promise.resolve(null);
        }),
      );
      const n = data.shape[0];
      const logits = new Float32Array(parts.reduce((sum, part) => sum + (part?.length ?? 0), 0));
      let offset = 0;
      for (const part of parts) {
        if (!part) continue;
        logits.set(part, offset);
        offset += part.length;
      }
      return tf.tensor2d(logits, [n, logits.length / n]);
    });
  }

  /** The model's state_dict (official keys, native layout) from replica `worker` (default 0). Caller disposes. */
  getStateDict(worker = 0): Promise<Map<string, tf.Tensor>> {
    return this.enqueue(async () => {
      const handle = this.handles[worker];
      if (!handle) throw new Error(`no worker ${worker} in a pool of ${this.size}`);
      const entries = await handle.request<TransferredTensor[]>({ type: 'getState' });
      return new Map(entries.map((e) => [e.key, tf.tensor(e.data, e.shape, e.dtype)]));
    });
  }

  /** Loads a state_dict (official keys, native layout, every key) into every replica. */
  loadStateDict(state: Map<string, tf.Tensor>): Promise<void> {
    return this.enqueue(async () => {
      const entries: TransferredTensor[] = [];
      for (const [key, tensor] of state) {
        const dtype = tensor.dtype === 'int32' ? 'int32' : 'float32';
        const data =
          dtype === 'int32' ? Int32Array.from(await tensor.data()) : Float32Array.from(await tensor.data());
        entries.push({ key, shape: [...tensor.shape], dtype, data });
      }
      await Promise.all(this.handles.map((handle) => handle.request({ type: 'loadState', entries })));
    });
  }

  /**
   * The SGD momentum buffers (model.parameters() order, null before a parameter's first update) from replica 0;
   * every replica holds the same bits. Caller disposes.
   */
  getMomentumBuffers(): Promise<Array<tf.Tensor | null>> {
    return this.enqueue(async () => {
      const buffers = await this.handles[0].request<MomentumBuffers>({ type: 'getMomentum' });
      return buffers.map((b) => (b ? tf.tensor(b.data, b.shape, 'float32') : null));
    });
  }

  /** Gives every replica's optimizer these momentum buffers (as `getMomentumBuffers` returns them; copied). */
  loadMomentumBuffers(buffers: ReadonlyArray<tf.Tensor | null>): Promise<void> {
    return this.enqueue(async () => {
      const transferred: MomentumBuffers = [];
      for (const b of buffers)
        transferred.push(b ? { shape: [...b.shape], data: Float32Array.from(await b.data()) } : null);
      await Promise.all(
        this.handles.map((handle) => handle.request({ type: 'loadMomentum', buffers: transferred })),
      );
    });
  }

  /** Stops every worker thread and waits until they have exited. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.handles.map((handle) => handle.terminate()));
  }
}

/** Starts a pool of `workers` replicas of a registered model (see WorkerPool). */
export function createWorkerPool(options: WorkerPoolOptions): Promise<WorkerPool> {
  return WorkerPool.create(options);
}
