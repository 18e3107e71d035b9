/**
 * Registers rla-net's own kernels: gradient kernels the wasm backend lacks, wasm kernels whose shipped versions are
 * scalar loops or copy whole tensors, faster versions of cpu kernels, and leaner BatchNorm/reduction gradients.
 * Idempotent; runs when the module system is loaded (engine/gradients.ts), so any backend set by the user benefits.
 *
 * The backend packages are imported first: tfjs's `registerKernel` lets the last registration win, so a backend
 * loaded after this ran would silently put its own slow kernels back.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { wasmBatchMatMulKernel } from './batch-matmul.js';
import { wasmBatchNormKernel } from './batch-norm.js';
import { conv2dBackpropFilterKernel } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputKernel } from './conv2d-backprop-input.js';
import { depthwiseBackpropFilterKernel } from './depthwise-backprop-filter.js';
import { depthwiseBackpropInputKernel } from './depthwise-backprop-input.js';
import { wasmCastKernel, wasmIdentityKernel } from './identity.js';
import { replaceKernel } from './kernel-tensors.js';
import { registerLeanGradients } from './lean-gradients.js';
import { wasmMaxPoolGradKernel } from './max-pool-grad.js';
import { wasmMeanKernel, wasmSumKernel } from './reduce.js';
import { wasmConcatKernel, wasmSliceKernel, wasmSplitVKernel, wasmStridedSliceKernel } from './slice.js';

let registered = false;

/** Wraps the wasm backend's shipped kernel `kernelName` (kept for the cases it handles well). */
function wrapWasmKernel(kernelName: string, wrap: (original: tf.KernelConfig) => tf.KernelConfig): void {
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original) throw new Error(`rla-net: the wasm backend has no ${kernelName} kernel to wrap`);
  replaceKernel(wrap(original));
}

/** Registers every rla-net kernel and gradient (once). */
export function registerRlaKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of ['cpu', 'wasm']) {
    replaceKernel(conv2dBackpropFilterKernel(backendName));
    replaceKernel(depthwiseBackpropFilterKernel(backendName));
  }
  // cpu keeps its own input gradients (reasonable JS loops, and the reference the tests compare with).
  replaceKernel(conv2dBackpropInputKernel('wasm'));
  replaceKernel(depthwiseBackpropInputKernel('wasm'));
  wrapWasmKernel(tf.BatchMatMul, wasmBatchMatMulKernel);
  wrapWasmKernel(tf.Slice, wasmSliceKernel);
  wrapWasmKernel(tf.SplitV, wasmSplitVKernel);
  wrapWasmKernel(tf.StridedSlice, wasmStridedSliceKernel);
  wrapWasmKernel(tf.Concat, wasmConcatKernel);
  wrapWasmKernel(tf.Sum, wasmSumKernel);
  wrapWasmKernel(tf.Mean, wasmMeanKernel);
  wrapWasmKernel(tf.Identity, wasmIdentityKernel);
  wrapWasmKernel(tf.Cast, wasmCastKernel);
  wrapWasmKernel(tf.MaxPoolGrad, wasmMaxPoolGradKernel);
  wrapWasmKernel(tf.FusedBatchNorm, wasmBatchNormKernel);
  registerLeanGradients();
}
