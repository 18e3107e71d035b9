/**
 * SGD with exactly PyTorch's semantics (torch.optim.SGD):
 *   g = grad + weight_decay * p                      (weight decay added to the gradient of every parameter)
 *   buf = g on the first step, else momentum * buf + (1 - dampening) * g
 *   g = g + momentum * buf if nesterov else buf
 *   p = p - lr * g
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Parameter } from '../nn/module.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD {
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  /** Momentum buffers by parameter (created on the first step, as PyTorch does). */
  private readonly buffers = new Map<Parameter, tf.Variable>();

  constructor(
    readonly parameters: readonly Parameter[],
    options: SGDOptions,
  ) {
    this.lr = options.lr;
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
    if (!(this.lr >= 0)) throw new Error(`SGD: invalid learning rate ${options.lr}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: Nesterov momentum requires a momentum > 0 and zero dampening');
    }
  }

  /** Applies one update. `grads` maps each parameter to its gradient (a parameter without one is skipped). */
  step(grads: Map<Parameter, tf.Tensor>): void {
    tf.tidy(() => {
      for (const parameter of this.parameters) {
        const grad = grads.get(parameter);
        if (!grad) continue;
        const p = parameter.variable;
        let g: tf.Tensor = this.weightDecay !== 0 ? tf.add(grad, tf.mul(p, this.weightDecay)) : grad;
        if (this.momentum !== 0) {
          let buffer = this.buffers.get(parameter);
          if (!buffer) {
            buffer = tf.variable(tf.clone(g), false);
            this.buffers.set(parameter, buffer);
          } else {
            buffer.assign(tf.add(tf.mul(buffer, this.momentum), tf.mul(g, 1 - this.dampening)));
          }
          g = this.nesterov ? tf.add(g, tf.mul(buffer, this.momentum)) : buffer;
        }
        p.assign(tf.sub(p, tf.mul(g, this.lr)));
      }
    });
  }

  /** Momentum buffers in parameter order (null where none exists yet), for checkpoints. */
  momentumBuffers(): Array<tf.Tensor | null> {
    return this.parameters.map((parameter) => this.buffers.get(parameter) ?? null);
  }

  /** Restores momentum buffers saved by `momentumBuffers()` (copies them). */
  loadMomentumBuffers(buffers: ReadonlyArray<tf.Tensor | null>): void {
    if (buffers.length !== this.parameters.length) {
      throw new Error(`SGD: ${buffers.length} momentum buffers for ${this.parameters.length} parameters`);
    }
    this.disposeBuffers();
    buffers.forEach((buffer, i) => {
      if (!buffer) return;
      // The variable shares the copy's data; the copy itself must be disposed, or each load leaks one tensor
      // per parameter (a study that trains cell after cell in one process ran out of wasm memory this way).
      const copy = tf.clone(buffer);
      this.buffers.set(this.parameters[i], tf.variable(copy, false));
      copy.dispose();
    });
  }

  dispose(): void {
    this.disposeBuffers();
  }

  private disposeBuffers(): void {
    for (const buffer of this.buffers.values()) buffer.dispose();
    this.buffers.clear();
  }
}
