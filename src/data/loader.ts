/**
 * The data loader: shuffles (seeded per epoch), prepares samples with the per-sample seeded pipeline, and yields
 * NHWC float32 batches while the next ones are being prepared. In-memory datasets are prepared on the main
 * thread (32x32 transforms cost microseconds); file datasets are decoded by a {@link DecodePool} of worker
 * threads, so JPEG decoding overlaps the training step.
 *
 * Determinism: the order of epoch e is a permutation seeded by (seed, e); the augmentation of a sample is seeded
 * by (seed, e, sample index). A loader can therefore start an epoch at any batch (resume) and produce exactly the
 * batches an uninterrupted run would have seen, whatever the number of workers.
 */
import { availableParallelism } from 'node:os';
import { Rng } from '../nn/init.js';
import { checkPositiveInteger } from '../util/checks.js';
import type { ImageDataset } from './dataset.js';
import { DecodePool } from './decode-pool.js';
import type { Preprocessing } from './preprocessing.js';
import { evaluationPipeline, type PipelineSpec, prepareSample } from './sample-pipeline.js';
import { deriveSeed, permutation } from './seeding.js';

/** One batch: NHWC float32 images and int labels. */
export interface Batch {
  /** [size, imageSize, imageSize, 3] values, NHWC. */
  x: Float32Array;
  labels: Int32Array;
  size: number;
  imageSize: number;
  /** Position of the batch in its epoch (0-based). */
  index: number;
}

/** How a {@link DataLoader} batches, orders and prepares samples. */
export interface LoaderOptions {
  batchSize: number;
  /** Reshuffle every epoch (training); false keeps dataset order (evaluation). */
  shuffle: boolean;
  /** Drop a last incomplete batch. */
  dropLast?: boolean;
  /** Transforms, normalisation and output size. */
  pipeline: PipelineSpec;
  /** Run seed: with the epoch it fixes the order and every augmentation. */
  seed: number;
  /** Decode worker threads for file datasets (default: CPUs - 1, at least 1, at most 8). */
  workers?: number;
  /** Batches prepared ahead of the consumer (default 2). */
  prefetch?: number;
}

/** Distinct streams drawn from one run seed. */
const SHUFFLE_STREAM = 1;
const AUGMENT_STREAM = 2;

/** Shuffled (or ordered), prefetched NHWC float32 batches of a dataset, reproducible per (seed, epoch). */
export class DataLoader {
  private pool: DecodePool | null = null;

  constructor(
    readonly dataset: ImageDataset,
    readonly options: LoaderOptions,
  ) {
    checkPositiveInteger('batch size', options.batchSize);
    if (dataset.length === 0) throw new Error('the dataset is empty');
  }

  get length(): number {
    return this.dataset.length;
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    const full = Math.floor(this.dataset.length / this.options.batchSize);
    return this.options.dropLast || this.dataset.length % this.options.batchSize === 0 ? full : full + 1;
  }

  /** Dataset indices in the order epoch `epoch` visits them. */
  order(epoch: number): Int32Array {
    if (!this.options.shuffle) return Int32Array.from({ length: this.dataset.length }, (_, i) => i);
    return permutation(this.dataset.length, new Rng(deriveSeed(this.options.seed, SHUFFLE_STREAM, epoch)));
  }

  /** The batches of `epoch`, starting at batch `start` (for resuming mid-epoch). */
  async *epoch(epoch: number, start = 0): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    const total = this.batchesPerEpoch;
    const depth = Math.max(1, this.options.prefetch ?? 2);
    const inFlight: Promise<Batch>[] = [];
    let next = start;
    const fill = () => {
      while (inFlight.length < depth && next < total) inFlight.push(this.prepare(order, epoch, next++));
    };
    fill();
    try {
      while (inFlight.length > 0) {
        const batch = await inFlight.shift()!;
        fill();
        yield batch;
      }
    } finally {
      // The consumer stopped early (break, error): nobody will await the prefetched batches.
      for (const pending of inFlight) pending.catch(() => {});
    }
  }

  /** Stops decode workers (file datasets); the loader can still be used afterwards (they restart). */
  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = null;
  }

  private async prepare(order: Int32Array, epoch: number, index: number): Promise<Batch> {
    const { batchSize, pipeline } = this.options;
    const begin = index * batchSize;
    const indices = order.subarray(begin, Math.min(begin + batchSize, order.length));
    const size = indices.length;
    const labels = Int32Array.from(indices, (i) => this.dataset.label(i));
    const seeds = Array.from(indices, (i) => deriveSeed(this.options.seed, AUGMENT_STREAM, epoch, i));
    const sample = pipeline.size * pipeline.size * 3;
    let x: Float32Array;
    if (this.dataset.kind === 'array') {
      // Yield to the event loop first, so a prefetched batch never blocks the consumer's current step.
      await new Promise((resolve) => setImmediate(resolve));
      x = new Float32Array(size * sample);
      for (let k = 0; k < size; k++) {
        prepareSample(this.dataset.image(indices[k]), seeds[k], pipeline, x, k, `sample ${indices[k]}`);
      }
    } else {
      x = await this.decodeFiles(
        Array.from(indices, (i) => (this.dataset as { file(i: number): string }).file(i)),
        seeds,
        sample,
      );
    }
    return { x, labels, size, imageSize: pipeline.size, index };
  }

  private async decodeFiles(files: string[], seeds: number[], sample: number): Promise<Float32Array> {
    const workers = this.options.workers ?? Math.min(8, Math.max(1, availableParallelism() - 1));
    this.pool ??= new DecodePool(workers);
    // Split the batch so every worker decodes a share of it.
    const chunk = Math.ceil(files.length / this.pool.size);
    const parts: Promise<Float32Array>[] = [];
    for (let begin = 0; begin < files.length; begin += chunk) {
      parts.push(
        this.pool.run(
          files.slice(begin, begin + chunk),
          seeds.slice(begin, begin + chunk),
          this.options.pipeline,
        ),
      );
    }
    const x = new Float32Array(files.length * sample);
    let offset = 0;
    for (const part of await Promise.all(parts)) {
      x.set(part, offset);
      offset += part.length;
    }
    return x;
  }
}

/** A loader over `samples` in order, prepared with `preprocessing`'s evaluation transforms (eval, calibration). */
export function evaluationLoader(
  samples: ImageDataset,
  preprocessing: Preprocessing,
  batchSize: number,
): DataLoader {
  return new DataLoader(samples, {
    batchSize,
    shuffle: false,
    pipeline: evaluationPipeline(preprocessing),
    seed: 0,
  });
}
