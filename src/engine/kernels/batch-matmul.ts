/**
 * BatchMatMul for wasm that keeps every product on XNNPACK.
 *
 * tfjs-backend-wasm only calls XNNPACK for a single, non-transposed product; with `transposeA`/`transposeB` (what
 * tfjs's matMul gradient asks for) or a batch it runs a scalar loop, 20-40x slower (0.5 vs 24 GFLOP/s). Here the
 * transposed operands are materialised with cache-friendly transposes and batches run one product at a time.
 *
 * A single product also picks its orientation. XNNPACK packs the right operand of every product whose right
 * operand it has not seen (in training: all of them, weights included) at ~3 ns per value, and a materialised
 * transpose costs ~1.5 ns per value; when the left operand is much smaller (few rows: the CIFAR model's 1x1 and
 * 2x2 maps, where a 512x2048 weight meets 64 rows), C^T = B^T A^T packs the small side instead, and the weight
 * gradient's B^T is the weight as stored. Same products, summed in the same order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../../util/shape.js';
import { asTensor } from './kernel-tensors.js';
import { swapLastAxes } from './transpose.js';

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** Below this many multiply-adds the scalar loop beats the extra kernel calls. */
const MIN_REWRITTEN_MACS = 1 << 15;
/** Batches up to this size are unrolled into single products. */
const MAX_UNROLLED_BATCH = 64;
/** Measured costs (ns per value) on wasm: packing a fresh right operand, materialising a transpose. */
const PACK_NS = 3;
const TRANSPOSE_NS = 1.5;
/** Swap only for a clear gain: the estimates are rough, and the swapped product has a different shape. */
const SWAP_GAIN = 0.7;

/** Estimated fresh-operand work of A.B (`direct`) and of (B^T.A^T)^T (`swapped`), in ns. */
export function orientationCosts(
  m: number,
  k: number,
  n: number,
  transposeA: boolean,
  transposeB: boolean,
): { direct: number; swapped: number } {
  const direct =
    (transposeA ? TRANSPOSE_NS * m * k : 0) + (transposeB ? TRANSPOSE_NS * k * n : 0) + PACK_NS * k * n;
  const swapped =
    (transposeB ? 0 : TRANSPOSE_NS * k * n) +
    (transposeA ? 0 : TRANSPOSE_NS * m * k) +
    PACK_NS * k * m +
    TRANSPOSE_NS * m * n;
  return { direct, swapped };
}

/** True while the kernel computes a swapped product, whose inner product must not swap back. */
let swapping = false;

/** The wasm BatchMatMul kernel wrapping the shipped one (`original`), which still runs the fast case. */
export function wasmBatchMatMulKernel(original: tf.KernelConfig): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
      const batchA = numel(a.shape.slice(0, -2));
      const batchB = numel(b.shape.slice(0, -2));
      const m = transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
      const k = transposeA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
      const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
      const batch = Math.max(batchA, batchB);
      const costs = orientationCosts(m, k, n, transposeA, transposeB);
      const swap =
        !swapping &&
        batch === 1 &&
        a.dtype === 'float32' &&
        b.dtype === 'float32' &&
        m * k * n >= MIN_REWRITTEN_MACS &&
        costs.swapped < SWAP_GAIN * costs.direct;
      const fastAlready = !transposeA && !transposeB && batch === 1;
      const rewritable =
        a.dtype === 'float32' &&
        b.dtype === 'float32' &&
        (batchA === batchB || batchA === 1 || batchB === 1) &&
        batch <= MAX_UNROLLED_BATCH &&
        batch * m * k * n >= MIN_REWRITTEN_MACS;
      const outShape = [
        ...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)),
        m,
        n,
      ];
      if (swap) return swappedProduct(a, b, transposeA, transposeB, outShape);
      if (fastAlready || !rewritable) return original.kernelFunc(args);
      return tf.tidy(() => {
        const left = tf.reshape(asTensor(a), [batchA, a.shape.at(-2)!, a.shape.at(-1)!]) as tf.Tensor3D;
        const right = tf.reshape(asTensor(b), [batchB, b.shape.at(-2)!, b.shape.at(-1)!]) as tf.Tensor3D;
        const lhs = transposeA ? swapLastAxes(left) : left;
        const rhs = transposeB ? swapLastAxes(right) : right;
        const products: tf.Tensor2D[] = [];
        for (let i = 0; i < batch; i++) {
          const ai = tf.reshape(batchA === 1 ? lhs : tf.slice(lhs, [i, 0, 0], [1, m, k]), [
            m,
            k,
          ]) as tf.Tensor2D;
          const bi = tf.reshape(batchB === 1 ? rhs : tf.slice(rhs, [i, 0, 0], [1, k, n]), [
            k,
            n,
          ]) as tf.Tensor2D;
          products.push(tf.matMul(ai, bi));
        }
        return tf.reshape(products.length === 1 ? products[0] : tf.stack(products), outShape);
      });
    },
  };
}

/** A.B (either transposed) of single matrices as (B^T.A^T)^T: the kernel's small-left-operand orientation. */
function swappedProduct(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  outShape: number[],
): tf.Tensor {
  return tf.tidy(() => {
    const matrix = (t: tf.TensorInfo) =>
      tf.reshape(asTensor(t), t.shape.slice(-2) as [number, number]) as tf.Tensor2D;
    const bT = transposeB ? matrix(b) : swapLastAxes(matrix(b));
    const aT = transposeA ? matrix(a) : swapLastAxes(matrix(a));
    swapping = true;
    let product: tf.Tensor2D;
    try {
      product = tf.matMul(bT, aT);
    } finally {
      swapping = false;
    }
    return tf.reshape(swapLastAxes(product), outShape);
  });
}
