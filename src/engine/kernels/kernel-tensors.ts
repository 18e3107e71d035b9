/**
 * Helpers for kernels written as compositions of tfjs ops. Inside a kernel, nested ops are not taped
 * (the engine only records at kernel depth 0), and a Tensor returned from a kernel function is used as the
 * kernel's output as is, so a composed kernel is exactly as differentiable and leak-free as a native one.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Wraps a kernel input (TensorInfo) as a Tensor sharing its data; dispose it (tidy does) when done. */
export function asTensor<T extends tf.Tensor>(info: tf.TensorInfo): T {
  return tf.engine().makeTensorFromTensorInfo(info) as T;
}

/** Registers `config` for `backendName`, replacing a kernel the backend already has. */
export function replaceKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName)) {
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}
