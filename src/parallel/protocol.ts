/**
 * Messages between a worker pool (main thread) and its workers. Every request carries an id; the worker answers
 * each with exactly one reply holding the same id: a result, or the error it threw (message and stack).
 */
import type { ModelOptions } from '../models/registry.js';
import type { SGDOptions } from '../train/sgd.js';
import type { StepResult } from '../train/step.js';

/** One tensor of a state dict as it crosses threads (native layout, row-major). */
export interface TransferredTensor {
  key: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** SGD momentum buffers in model.parameters() order; null where a parameter has none yet (before its first step). */
export type MomentumBuffers = Array<{ shape: number[]; data: Float32Array } | null>;

/** Where a batch lies in the pool's shared input buffers, and which part a worker takes. */
export interface BatchSlice {
  /** Shared NHWC float32 images of the whole batch. */
  images: SharedArrayBuffer;
  /** Shared int32 class labels of the whole batch (training only). */
  labels?: SharedArrayBuffer;
  /** Image shape [H, W, C]. */
  imageShape: [number, number, number];
  /** First image of this worker's shard and how many. */
  begin: number;
  count: number;
}

export type WorkerRequest =
  | {
      type: 'init';
      backend: 'wasm' | 'cpu';
      model: string;
      options: ModelOptions;
      optimizer: SGDOptions;
    }
  | { type: 'attachExchange'; exchange: SharedArrayBuffer; workers: number; slot: number }
  | { type: 'train'; batch: BatchSlice }
  | { type: 'reduce'; begin: number; end: number; weights: number[] }
  | { type: 'apply'; hasGradient: boolean[]; updateParameters: boolean; lr?: number }
  | { type: 'predict'; batch: BatchSlice }
  | { type: 'getState' }
  | { type: 'loadState'; entries: TransferredTensor[] }
  | { type: 'getMomentum' }
  | { type: 'loadMomentum'; buffers: MomentumBuffers };

/** What `init` answers: the sizes of the flat vector a training step exchanges. */
export interface ExchangeLayout {
  /** Float32 elements of all trainable parameters (the gradient part). */
  gradientSize: number;
  /** Float32 elements of all float BatchNorm buffers (running statistics), averaged after each step. */
  bufferSize: number;
}

/** What a worker reports after the forward and backward pass on its shard. */
/** A shard's step report (mean loss and hits of the shard) and which parameters received a gradient. */
export interface ShardResult extends StepResult {
  /** Per parameter (model.parameters() order): whether it received a gradient. */
  hasGradient: boolean[];
}

export interface WorkerReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { name: string; message: string; stack?: string };
}

/** A request with its id, as posted. */
export type PostedRequest = WorkerRequest & { id: number };
