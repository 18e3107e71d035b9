/**
 * The TF.js backend symbolic tensors live on while a forward pass is traced (see ../../nn/trace-hook.ts). It
 * computes nothing: each kernel asks the active graph tracer to write the op and gets back the output's shape.
 * Tensors the code creates from values (`tf.zeros`, the scalar in `tf.sub(1, u)`) are kept as constants.
 */
import * as tf from '@tensorflow/tfjs-core';

export const TRACE_BACKEND = 'rla-trace';

/** A tensor created from values while tracing. */
export interface TracedConstant {
  values: Float32Array;
  shape: number[];
}

export class TraceBackend extends tf.KernelBackend {
  private readonly constants = new WeakMap<tf.DataId, TracedConstant>();
  private live = 0;

  /** A fresh data id for a symbolic tensor. */
  newDataId(): tf.DataId {
    this.live++;
    return {};
  }

  /** The values of a tensor created from values while tracing, or undefined for a symbolic one. */
  constantOf(dataId: tf.DataId): TracedConstant | undefined {
    return this.constants.get(dataId);
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId {
    if (dtype === 'string' || dtype === 'complex64') {
      throw new Error(`tracing a model into a graph: ${dtype} tensors have no graph form`);
    }
    const dataId = this.newDataId();
    this.constants.set(dataId, { values: Float32Array.from(values as ArrayLike<number>), shape: [...shape] });
    return dataId;
  }

  override move(
    dataId: tf.DataId,
    values: tf.backend_util.BackendValues,
    shape: number[],
    dtype: tf.DataType,
  ): void {
    // A tensor of another backend reached a traced op: the tracer refuses it by name before this happens.
    this.constants.set(dataId, { values: Float32Array.from(values as ArrayLike<number>), shape: [...shape] });
    void dtype;
  }

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    const constant = this.constants.get(dataId);
    if (!constant) {
      throw new Error(
        'tracing a model into a graph: its forward pass read the values of a symbolic tensor (dataSync/arraySync); ' +
          'a traced forward may use shapes only',
      );
    }
    return constant.values;
  }

  override async read(dataId: tf.DataId): Promise<tf.backend_util.BackendValues> {
    return this.readSync(dataId);
  }

  override refCount(dataId: tf.DataId): number {
    void dataId;
    return 1;
  }

  override incRef(dataId: tf.DataId): void {
    void dataId;
  }

  override disposeData(dataId: tf.DataId): boolean {
    this.constants.delete(dataId);
    this.live--;
    return true;
  }

  override numDataIds(): number {
    return this.live;
  }

  override memory(): { unreliable: boolean; reasons?: string[] } {
    return { unreliable: true, reasons: ['symbolic tensors hold no data'] };
  }

  override timerAvailable(): boolean {
    return false;
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  override dispose(): void {}
}

let instance: TraceBackend | null = null;

/** The trace backend, registered with TF.js on first use (lowest priority: never chosen by default). */
export function traceBackend(): TraceBackend {
  if (!instance) {
    const backend = new TraceBackend();
    tf.registerBackend(TRACE_BACKEND, () => backend, -1000);
    instance = backend;
  }
  return instance;
}

/**
 * Runs `record` with the trace backend active, then restores the previous backend. Both switches are
 * synchronous: the trace backend initialises synchronously and the previous one is already initialised.
 */
export function onTraceBackend<T>(record: () => T): T {
  traceBackend();
  const previous = tf.getBackend();
  void tf.setBackend(TRACE_BACKEND);
  if (tf.getBackend() !== TRACE_BACKEND) throw new Error('could not switch TF.js to the trace backend');
  try {
    return record();
  } finally {
    void tf.setBackend(previous);
  }
}
