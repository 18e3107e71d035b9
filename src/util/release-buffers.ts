/**
 * Frees ArrayBuffers now instead of at V8's next collection, and keeps their memory for the next ones.
 * onnxruntime-node returns a fresh copy of every fetched output even where it wrote the output into a
 * preallocated array; on the training step that is the next parameters and momentum, a few hundred MB per step
 * that otherwise stays resident until V8 collects it.
 *
 * Transferring a buffer detaches it from this thread and moves its memory into the message; a message posted to
 * a port whose other end is closed is dropped, and its memory with it.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';

let sink: MessagePort | undefined;

function openSink(): MessagePort {
  const { port1, port2 } = new MessageChannel();
  port2.close();
  port1.unref();
  return port1;
}

/** Detaches and frees `buffers` (each is unusable afterwards: byteLength 0). */
export function releaseArrayBuffers(buffers: readonly ArrayBuffer[]): void {
  if (buffers.length === 0) return;
  sink ??= openSink();
  sink.postMessage(null, [...new Set(buffers)]);
}

/** The buffer allocated above the released ones (see {@link holdHeapTop}), kept for the life of the process. */
const heapTop: ArrayBuffer[] = [];

/**
 * Allocates, once per process, a buffer of `bytes` above the buffers about to be released, so that their memory
 * stays in the heap for the next buffers of the same sizes instead of going back to the OS. glibc's malloc
 * returns the free memory at the top of its heap to the OS (trimming) and gives large blocks their own
 * mappings: a training step that frees 190 MB of output copies got them back the next step as 29k fresh pages,
 * faulted in again (60 ms of system time per CIFAR step, 7% of its time). Call it while the released buffers
 * are still allocated and after buffers of these sizes have been freed once (glibc then serves them from the
 * heap, and `bytes`, their largest size, lands at its top). The buffer's pages are never touched, so it costs
 * address space, not memory. Elsewhere than glibc it is merely an unused buffer.
 */
export function holdHeapTop(bytes: number): void {
  if (heapTop.length === 0) heapTop.push(new ArrayBuffer(bytes));
}
