/**
 * Identity and same-type Cast for wasm without copying.
 *
 * tfjs clones every tensor it saves for the backward pass (Identity), and `moments`/`relu`'s gradient cast
 * float32 to float32; the cpu backend shares the buffer (reference count), the wasm backend copies it. On a
 * ResNet training step that was ~1850 full-size copies (and twice the activation memory). Tensors are immutable
 * and the wasm backend counts references per buffer exactly as cpu does, so sharing is safe.
 */
import type * as tf from '@tensorflow/tfjs-core';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

function sharesBuffers(backend: unknown): backend is RefCountingBackend {
  return typeof (backend as Partial<RefCountingBackend> | null)?.incRef === 'function';
}

function share(x: tf.TensorInfo, backend: RefCountingBackend): tf.TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Identity for wasm: a new reference to the same buffer. */
export function wasmIdentityKernel(original: tf.KernelConfig): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (x.dtype === 'string' || !sharesBuffers(args.backend)) return original.kernelFunc(args);
      return share(x, args.backend);
    },
  };
}

/** Cast for wasm: a new reference when the type does not change, else the shipped conversion. */
export function wasmCastKernel(original: tf.KernelConfig): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
      if (dtype !== x.dtype || x.dtype === 'string' || !sharesBuffers(args.backend))
        return original.kernelFunc(args);
      return share(x, args.backend);
    },
  };
}
