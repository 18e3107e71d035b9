/**
 * A pool worker for fault tests: the real worker (it answers every request as usual), plus an error nobody catches
 * right after it answers a request for momentum buffers, which is what a crashing native kernel or a bug in an
 * async callback looks like to the pool.
 */
import { parentPort } from 'node:worker_threads';
import '../../src/parallel/worker.js';

parentPort?.on('message', (request: { type: string }) => {
  if (request.type !== 'getMomentum') return;
  setImmediate(() => {
    throw new Error('simulated crash');
  });
});
