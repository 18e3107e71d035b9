/**
 * Helpers for kernels written as compositions of tfjs ops. Inside a kernel, nested ops are not taped
 * (the engine only records at kernel depth 0), and a Tensor returned from a kernel function is used as the
 * kernel's output as is, so a composed kernel is exactly as differentiable and leak-free as a native one.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * A kernel input as a Tensor. Ops pass real Tensors (returned as is, not owned by the kernel); a bare TensorInfo
 * is wrapped in a new Tensor that shares its data and holds its own reference (makeTensorFromTensorInfo takes
 * none, so disposing the wrapper would otherwise free the caller's data).
 */
export function asTensor<T extends tf.Tensor>(info: tf.TensorInfo): T {
  if (info instanceof tf.Tensor) return info as T;
  const engine = tf.engine();
  const tensor = engine.makeTensorFromTensorInfo(info);
  engine.backend.incRef(info.dataId);
  return tensor as T;
}

/** Registers `config` for `backendName`, replacing a kernel the backend already has. */
export function replaceKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName)) {
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}
