/**
 * A small pool of worker threads that decode and transform image files (see `decode-worker.ts`). Jobs go to the
 * worker with the fewest jobs in flight; workers are `unref`ed so an unclosed pool never keeps Node alive.
 */
import { Worker } from 'node:worker_threads';
import { checkPositiveInteger } from '../util/checks.js';
import { DatasetError } from './dataset.js';
import type { PipelineSpec } from './sample-pipeline.js';

/** A job: prepare `files` (with per-sample seeds) into consecutive samples. */
export interface DecodeRequest {
  id: number;
  files: string[];
  seeds: number[];
  spec: PipelineSpec;
}

/** The reply: NHWC float32 samples, or the error message (which names the file). */
export interface DecodeResponse {
  id: number;
  data?: Float32Array;
  error?: string;
}

interface Slot {
  worker: Worker;
  inFlight: number;
  dead: boolean;
}

/** Worker threads that decode + transform image files; jobs go to the least busy worker. */
export class DecodePool {
  private readonly slots: Slot[];
  private readonly pending = new Map<
    number,
    { resolve: (data: Float32Array) => void; reject: (e: Error) => void; slot: Slot }
  >();
  private nextId = 0;
  private closed = false;

  constructor(readonly size: number) {
    checkPositiveInteger('decode pool size', size);
    const url = new URL('./decode-worker.js', import.meta.url);
    this.slots = Array.from({ length: size }, () => {
      const slot: Slot = { worker: new Worker(url), inFlight: 0, dead: false };
      slot.worker.unref();
      slot.worker.on('message', (response: DecodeResponse) => this.settle(response));
      slot.worker.on('error', (error) => this.failAll(slot, error));
      return slot;
    });
  }

  /** Prepares `files` in a worker; resolves with their samples (NHWC float32, `spec.size` squared, 3 channels). */
  run(files: string[], seeds: number[], spec: PipelineSpec): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new Error('decode pool is closed'));
    const alive = this.slots.filter((s) => !s.dead);
    if (alive.length === 0) return Promise.reject(new Error('every decode worker has crashed'));
    const slot = alive.reduce((best, s) => (s.inFlight < best.inFlight ? s : best));
    const id = this.nextId++;
    slot.inFlight++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      slot.worker.postMessage({ id, files, seeds, spec } satisfies DecodeRequest);
    });
  }

  /** Stops every worker; jobs still in flight are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [id, job] of this.pending) {
      job.reject(new Error('decode pool closed'));
      this.pending.delete(id);
    }
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private settle(response: DecodeResponse): void {
    const job = this.pending.get(response.id);
    if (!job) return;
    this.pending.delete(response.id);
    job.slot.inFlight--;
    if (response.error !== undefined || !response.data)
      job.reject(new DatasetError(response.error ?? 'no data'));
    else job.resolve(response.data);
  }

  private failAll(slot: Slot, error: Error): void {
    slot.dead = true;
    for (const [id, job] of this.pending) {
      if (job.slot !== slot) continue;
      this.pending.delete(id);
      job.reject(new Error(`decode worker crashed: ${error.message}`));
    }
  }
}
