/**
 * The hook through which a model's own forward pass is recorded as a graph (src/onnx/trace). While a tracer is
 * active, each primitive layer (conv, norm, linear, pool, dropout) hands its call to the tracer instead of
 * computing: the layer knows what it is, the tracer knows how to write it. Everything between the primitives
 * (additions, activations, concatenations, reshapes, the RLA wiring) runs as ordinary TF.js ops on symbolic
 * tensors and is recorded op by op. So the module tree is the one definition of each model; the ONNX export and
 * the training graphs are traces of it.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Module } from './module.js';

export interface ModuleTracer {
  /**
   * The symbolic output of `module` applied to the symbolic `inputs`. `detail` carries what a layer needs beyond
   * its inputs (DenseNet's assembled 1x1 conv: which layer of the block).
   */
  call(module: Module, inputs: readonly tf.Tensor[], detail?: unknown): tf.Tensor;
}

let active: ModuleTracer | null = null;

/** The tracer recording the current forward pass, or null when tensors are real. */
export function activeTracer(): ModuleTracer | null {
  return active;
}

/** Runs `record` with `tracer` receiving every primitive layer call. */
export function withTracer<T>(tracer: ModuleTracer, record: () => T): T {
  const previous = active;
  active = tracer;
  try {
    return record();
  } finally {
    active = previous;
  }
}
