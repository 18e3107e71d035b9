/**
 * The best rates the wasm backend's products reach on this machine, one thread, weights cached (no per-call
 * packing), best of 8: the ceiling that training steps are measured against in docs/performance.md.
 *
 *   node dist/bench/wasm-peak.js        # JSON on stdout
 */
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';

interface PeakRow {
  kernel: string;
  gflops: number;
}

/** Best wall time of `runs` calls of `product` (each result read back, then disposed). */
function bestMs(product: () => tf.Tensor, runs = 8): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const y = product();
    y.dataSync();
    best = Math.min(best, performance.now() - t0);
    y.dispose();
  }
  return best;
}

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm' });
  const rows: PeakRow[] = [];
  const record = (kernel: string, flop: number, ms: number) =>
    rows.push({ kernel, gflops: Math.round((flop / ms / 1e6) * 10) / 10 });
  for (const n of [512, 1024, 2048]) {
    const [a, b] = [tf.randomNormal([n, n]), tf.randomNormal([n, n])];
    record(
      `matmul ${n}x${n}x${n}`,
      2 * n ** 3,
      bestMs(() => tf.matMul(a, b)),
    );
    tf.dispose([a, b]);
  }
  for (const [size, channels] of [
    [56, 64],
    [28, 128],
    [14, 256],
  ]) {
    const x = tf.randomNormal([8, size, size, channels]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, channels, channels]) as tf.Tensor4D;
    const flop = 2 * 8 * size * size * channels * channels * 9;
    record(
      `conv3x3 [8,${size},${size},${channels}]`,
      flop,
      bestMs(() => tf.conv2d(x, w, 1, 'same')),
    );
    tf.dispose([x, w]);
  }
  const result = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', kernels: rows };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

await main();
