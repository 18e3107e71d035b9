/**
 * Registers rla-net's own kernels: gradient kernels the wasm backend lacks, and faster versions of cpu kernels.
 * Idempotent; called by `initBackend` and by the model code path so any backend set by the user benefits.
 */
import { conv2dBackpropFilterKernel } from './conv2d-backprop-filter.js';
import { depthwiseBackpropFilterKernel } from './depthwise-backprop-filter.js';
import { replaceKernel } from './kernel-tensors.js';

let registered = false;

export function registerRlaKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of ['cpu', 'wasm']) {
    replaceKernel(conv2dBackpropFilterKernel(backendName));
    replaceKernel(depthwiseBackpropFilterKernel(backendName));
  }
}
