/**
 * BatchMatMul for wasm that keeps every product on XNNPACK.
 *
 * tfjs-backend-wasm only calls XNNPACK for a single, non-transposed product; with `transposeA`/`transposeB` (what
 * tfjs's matMul gradient asks for) or a batch it runs a scalar loop, 20-40x slower (0.5 vs 24 GFLOP/s). Here the
 * transposed operands are materialised with cache-friendly transposes and batches run one product at a time.
 */
import * as tf from '@tensorflow/tfjs-core';
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

/** The wasm BatchMatMul kernel wrapping the shipped one (`original`), which still runs the fast case. */
export function wasmBatchMatMulKernel(original: tf.KernelConfig): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
      const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
      const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
      const m = transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
      const k = transposeA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
      const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
      const batch = Math.max(batchA, batchB);
      const fastAlready = !transposeA && !transposeB && batch === 1;
      const rewritable =
        a.dtype === 'float32' &&
        b.dtype === 'float32' &&
        (batchA === batchB || batchA === 1 || batchB === 1) &&
        batch <= MAX_UNROLLED_BATCH &&
        batch * m * k * n >= MIN_REWRITTEN_MACS;
      if (fastAlready || !rewritable) return original.kernelFunc(args);
      const outShape = [
        ...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)),
        m,
        n,
      ];
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
