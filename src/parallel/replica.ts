/**
 * One worker's model replica: its own tfjs backend, model, optimizer, and its side of the gradient exchange.
 * Runs inside a worker thread (worker.ts); kept free of messaging so it reads as the training step it is.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.js';
import { isWasmBackend } from '../engine/kernels/wasm-heap.js';
import type { ClassifierModel } from '../models/classifier.js';
import { createModel } from '../models/index.js';
import type { ModelOptions } from '../models/registry.js';
import type { Buffer, Parameter } from '../nn/module.js';
import { SGD, type SGDOptions } from '../train/sgd.js';
import { batchGradients } from '../train/step.js';
import { numel } from '../util/shape.js';
import { GradientExchange } from './exchange.js';
import type {
  BatchSlice,
  ExchangeLayout,
  MomentumBuffers,
  ShardResult,
  TransferredTensor,
} from './protocol.js';

/** Copies a tensor's values into `target` at `offset` (straight from the wasm heap when possible). */
function readInto(tensor: tf.Tensor, target: Float32Array, offset: number): void {
  const backend = tf.backend();
  const values = isWasmBackend(backend) ? backend.typedArrayFromHeap(tensor) : tensor.dataSync();
  target.set(values as Float32Array, offset);
}

/**
 * A float32 tensor holding a copy of `values` (views on shared memory). The wasm backend copies into its heap
 * anyway; the cpu backend would keep the array itself, which the next step overwrites, so it gets a copy.
 */
function tensorFrom(values: Float32Array, shape: number[]): tf.Tensor {
  return tf.tensor(isWasmBackend(tf.backend()) ? values : values.slice(), shape, 'float32');
}

export class Replica {
  private exchange: GradientExchange | null = null;
  private slot = 0;
  private readonly parameters: Parameter[];
  private readonly floatBuffers: Buffer[];
  private readonly optimizer: SGD;

  private constructor(
    private readonly model: ClassifierModel,
    optimizer: SGDOptions,
  ) {
    this.parameters = model.parameters();
    this.floatBuffers = model.buffers().filter((buffer) => buffer.variable.dtype === 'float32');
    this.optimizer = new SGD(this.parameters, optimizer);
  }

  /** Starts the backend and builds the model. */
  static async create(
    backend: 'wasm' | 'cpu',
    name: string,
    options: ModelOptions,
    optimizer: SGDOptions,
  ): Promise<Replica> {
    await initBackend({ backend });
    return new Replica(createModel(name, options), optimizer);
  }

  /** Sizes of the vector this replica exchanges per step. */
  layout(): ExchangeLayout {
    return {
      gradientSize: this.parameters.reduce((sum, p) => sum + numel(p.shape), 0),
      bufferSize: this.floatBuffers.reduce((sum, b) => sum + numel(b.variable.shape), 0),
    };
  }

  attachExchange(buffer: SharedArrayBuffer, workers: number, slot: number): void {
    const { gradientSize, bufferSize } = this.layout();
    this.exchange = new GradientExchange(buffer, workers, gradientSize + bufferSize);
    this.slot = slot;
  }

  private requireExchange(): GradientExchange {
    if (!this.exchange) throw new Error('replica: no gradient exchange attached');
    return this.exchange;
  }

  private images(batch: BatchSlice): tf.Tensor4D {
    const [h, w, c] = batch.imageShape;
    const pixels = h * w * c;
    const all = new Float32Array(batch.images);
    const mine = all.subarray(batch.begin * pixels, (batch.begin + batch.count) * pixels);
    return tensorFrom(mine, [batch.count, h, w, c]) as tf.Tensor4D;
  }

  /**
   * Forward + cross-entropy + backward on this worker's shard (training mode: BatchNorm uses the shard's
   * statistics and updates its running statistics). Writes the gradients and the updated float buffers into this
   * worker's slot; returns the shard's mean loss, top-1/top-5 hits and which parameters received a gradient.
   */
  computeGradients(batch: BatchSlice): ShardResult {
    const exchange = this.requireExchange();
    if (!batch.labels) throw new Error('replica: a training batch needs labels');
    const target = exchange.slot(this.slot);
    const labels = new Int32Array(batch.labels).slice(batch.begin, batch.begin + batch.count);
    const x = this.images(batch);
    try {
      const { result, grads } = batchGradients(this.model, this.parameters, x, labels);
      let offset = 0;
      const hasGradient = this.parameters.map((parameter) => {
        const grad = grads.get(parameter);
        const size = numel(parameter.shape);
        if (grad) readInto(grad, target, offset);
        else target.fill(0, offset, offset + size);
        offset += size;
        return grad !== undefined;
      });
      for (const buffer of this.floatBuffers) {
        readInto(buffer.variable, target, offset);
        offset += numel(buffer.variable.shape);
      }
      tf.dispose([...grads.values()]);
      return { ...result, hasGradient };
    } finally {
      x.dispose();
    }
  }

  /** This worker's share of the all-reduce (see exchange.ts). */
  reduce(begin: number, end: number, weights: number[]): void {
    this.requireExchange().reduce(begin, end, weights);
  }

  /**
   * Applies the averaged gradients (slot 0) with SGD at learning rate `lr` and adopts the averaged running
   * statistics. Parameters that received no gradient are skipped, as torch.optim.SGD skips parameters whose grad
   * is None; with `updateParameters` false (a non-finite loss somewhere) only the statistics are adopted.
   */
  applyUpdate(hasGradient: boolean[], updateParameters: boolean, lr?: number): void {
    const reduced = this.requireExchange().slot(0);
    let offset = 0;
    const grads = new Map<Parameter, tf.Tensor>();
    this.parameters.forEach((parameter, i) => {
      const size = numel(parameter.shape);
      if (updateParameters && hasGradient[i]) {
        grads.set(parameter, tensorFrom(reduced.subarray(offset, offset + size), parameter.shape));
      }
      offset += size;
    });
    try {
      if (lr !== undefined) this.optimizer.lr = lr;
      if (grads.size > 0) this.optimizer.step(grads);
    } finally {
      tf.dispose([...grads.values()]);
    }
    for (const buffer of this.floatBuffers) {
      const shape = buffer.variable.shape;
      const size = numel(shape);
      buffer.set(tensorFrom(reduced.subarray(offset, offset + size), shape));
      offset += size;
    }
  }

  /** Logits of this worker's shard in inference mode (running statistics), row-major [count, classes]. */
  predict(batch: BatchSlice): Float32Array {
    this.model.eval();
    const x = this.images(batch);
    try {
      return tf.tidy(() => this.model.forward(x).dataSync() as Float32Array).slice();
    } finally {
      x.dispose();
    }
  }

  /** Every state_dict entry (tied parameters under each of their keys), copied. */
  stateDict(): TransferredTensor[] {
    return this.model.stateEntries().map((entry) => ({
      key: entry.key,
      shape: [...entry.tensor.shape],
      dtype: entry.tensor.dtype === 'int32' ? 'int32' : 'float32',
      data: entry.tensor.dataSync().slice() as Float32Array | Int32Array,
    }));
  }

  /** The optimizer's momentum buffers, copied. */
  momentumBuffers(): MomentumBuffers {
    return this.optimizer
      .momentumBuffers()
      .map((b) => (b ? { shape: [...b.shape], data: (b.dataSync() as Float32Array).slice() } : null));
  }

  /** Replaces the optimizer's momentum buffers (copies them). */
  loadMomentumBuffers(buffers: MomentumBuffers): void {
    const tensors = buffers.map((b) => (b ? tf.tensor(b.data, b.shape, 'float32') : null));
    try {
      this.optimizer.loadMomentumBuffers(tensors);
    } finally {
      tf.dispose(tensors.filter((t): t is tf.Tensor => t !== null));
    }
  }

  /** Loads state_dict entries (strict: every key must be present). */
  loadStateDict(entries: TransferredTensor[]): void {
    const tensors = new Map(entries.map((e) => [e.key, tf.tensor(e.data.slice(), e.shape, e.dtype)]));
    try {
      this.model.loadStateDict(tensors);
    } finally {
      tf.dispose([...tensors.values()]);
    }
  }
}
