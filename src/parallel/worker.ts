/**
 * Entry point of a pool worker thread: answers the pool's requests (protocol.ts) with its model replica.
 * Every request gets exactly one reply; a thrown error is sent back with its stack instead of killing the thread.
 */
import { parentPort } from 'node:worker_threads';
import type { PostedRequest, WorkerReply } from './protocol.js';
import { Replica } from './replica.js';

const port = parentPort;
if (!port) throw new Error('rla-net pool worker must run in a worker thread');

let replica: Replica | null = null;

function requireReplica(): Replica {
  if (!replica) throw new Error('worker not initialised');
  return replica;
}

async function handle(request: PostedRequest): Promise<{ result: unknown; transfer?: ArrayBuffer[] }> {
  switch (request.type) {
    case 'init': {
      replica = await Replica.create(request.backend, request.model, request.options, request.optimizer);
      return { result: replica.layout() };
    }
    case 'attachExchange':
      requireReplica().attachExchange(request.exchange, request.workers, request.slot);
      return { result: null };
    case 'train':
      return { result: requireReplica().computeGradients(request.batch) };
    case 'reduce':
      requireReplica().reduce(request.begin, request.end, request.weights);
      return { result: null };
    case 'apply':
      requireReplica().applyUpdate(request.hasGradient, request.updateParameters, request.lr);
      return { result: null };
    case 'predict': {
      const logits = requireReplica().predict(request.batch);
      return { result: logits, transfer: [logits.buffer as ArrayBuffer] };
    }
    case 'getState': {
      const entries = requireReplica().stateDict();
      return { result: entries, transfer: entries.map((e) => e.data.buffer as ArrayBuffer) };
    }
    case 'loadState':
      requireReplica().loadStateDict(request.entries);
      return { result: null };
    case 'getMomentum': {
      const buffers = requireReplica().momentumBuffers();
      return { result: buffers, transfer: buffers.flatMap((b) => (b ? [b.data.buffer as ArrayBuffer] : [])) };
    }
    case 'loadMomentum':
      requireReplica().loadMomentumBuffers(request.buffers);
      return { result: null };
  }
}

port.on('message', (request: PostedRequest) => {
  handle(request).then(
    ({ result, transfer }) =>
      port.postMessage({ id: request.id, ok: true, result } satisfies WorkerReply, transfer),
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      port.postMessage({
        id: request.id,
        ok: false,
        error: { name: e.name, message: e.message, stack: e.stack },
      } satisfies WorkerReply);
    },
  );
});
