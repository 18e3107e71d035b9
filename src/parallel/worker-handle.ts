/**
 * The main thread's side of one pool worker: request/reply by id, errors carried back with the worker's stack,
 * and the thread held (ref) only while a request is outstanding so an idle pool never keeps Node alive.
 */
import { Worker } from 'node:worker_threads';
import type { PostedRequest, WorkerReply, WorkerRequest } from './protocol.js';

/** An error raised inside a pool worker, re-thrown in the main thread. */
export class WorkerError extends Error {
  constructor(
    readonly workerIndex: number,
    readonly workerStack: string | undefined,
    message: string,
    readonly workerErrorName = 'Error',
  ) {
    super(`worker ${workerIndex}: ${message}`);
    this.name = 'WorkerError';
    // The main-thread stack says who asked; the worker's says what failed. Keep both.
    if (workerStack) this.stack = `${this.stack}\n    --- in worker ${workerIndex} ---\n${workerStack}`;
  }
}

let live = 0;

/** Worker threads started by pools and not yet exited (for tests: no orphaned threads). */
export function liveWorkerThreads(): number {
  return live;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class WorkerHandle {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited = false;
  /** Resolves when the thread has exited, whatever the reason. */
  readonly exit: Promise<number>;

  constructor(
    readonly index: number,
    script: URL,
    onFailure: (error: Error) => void,
  ) {
    this.worker = new Worker(script);
    live++;
    this.worker.unref();
    this.exit = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        live--;
        this.exited = true;
        this.rejectAll(new WorkerError(index, undefined, `thread exited (code ${code})`));
        resolve(code);
      });
    });
    this.worker.on('message', (reply: WorkerReply) => this.settle(reply));
    this.worker.on('error', (error) => {
      const failure = new WorkerError(index, error.stack, error.message, error.name);
      this.rejectAll(failure);
      onFailure(failure);
    });
    this.worker.on('messageerror', (error) => onFailure(new WorkerError(index, error.stack, error.message)));
  }

  /** Sends a request; resolves with the worker's result or rejects with a WorkerError. */
  request<T = unknown>(request: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.exited) return Promise.reject(new WorkerError(this.index, undefined, 'thread has exited'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ ...request, id } as PostedRequest, transfer);
    });
  }

  private settle(reply: WorkerReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) pending.resolve(reply.result);
    else {
      const e = reply.error ?? { name: 'Error', message: 'unknown worker error' };
      pending.reject(new WorkerError(this.index, e.stack, e.message, e.name));
    }
  }

  private rejectAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  /**
   * Stops the thread (pending requests reject) and waits until it has exited. The thread is held (ref) while it
   * stops: an idle, unref'd thread would let Node's event loop end before its exit event, leaving this promise
   * (and a pool's failed start, which closes the pool) pending forever.
   */
  async terminate(): Promise<void> {
    if (!this.exited) {
      this.worker.ref();
      await this.worker.terminate();
    }
    await this.exit;
  }
}
