/**
 * Frees ArrayBuffers now instead of at V8's next collection. onnxruntime-node returns a fresh copy of every
 * fetched output even where it wrote the output into a preallocated array; on the training step that is the next
 * parameters and momentum, a few hundred MB per step that otherwise stays resident until V8 collects it.
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
