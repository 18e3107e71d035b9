/**
 * A small PyTorch-style module tree over tfjs-core.
 *
 * Children, parameters and buffers are registered under the names the official PyTorch code uses, in the same
 * order, so `stateDict()` keys ARE the official state_dict keys. Tensors are stored in the native TF.js layout
 * (NHWC activations, HWIO conv weights); each parameter records its `TorchLayout` for import/export.
 */
import * as tf from '@tensorflow/tfjs-core';
import '../engine/gradients.js';
import { SAME_LAYOUT, type TorchLayout } from './tensor-layout.js';

/** A state tensor of a module, held in a TF.js variable: what Parameter and Buffer share. */
abstract class StateTensor {
  readonly variable: tf.Variable;
  /** Takes `value` over (it is disposed); `trainable` variables receive gradients. */
  protected constructor(value: tf.Tensor, trainable: boolean) {
    this.variable = tf.variable(value, trainable);
    value.dispose();
  }
  get value(): tf.Tensor {
    return this.variable;
  }
  /** Replaces the value (same shape) and disposes `value`. */
  set(value: tf.Tensor): void {
    this.variable.assign(value);
    value.dispose();
  }
  get shape(): number[] {
    return this.variable.shape;
  }
}

/** A trainable tensor. One Parameter object may be registered under several names (tied weights). */
export class Parameter extends StateTensor {
  constructor(
    value: tf.Tensor,
    readonly layout: TorchLayout = SAME_LAYOUT,
  ) {
    super(value, true);
  }
}

/** A non-trainable state tensor (BN running statistics, `num_batches_tracked`). */
export class Buffer extends StateTensor {
  constructor(value: tf.Tensor) {
    super(value, false);
  }
}

export interface StateEntry {
  /** Official state_dict key. */
  key: string;
  /** Live tensor in native layout (do not dispose). */
  tensor: tf.Tensor;
  layout: TorchLayout;
  kind: 'parameter' | 'buffer';
  /** The Parameter/Buffer object: identical objects under several keys are tied. */
  owner: Parameter | Buffer;
}

export interface LoadStateDictOptions {
  /** When true (default), missing or unexpected keys are an error. Shape mismatches are always an error. */
  strict?: boolean;
}

export interface LoadStateDictReport {
  missing: string[];
  unexpected: string[];
}

export abstract class Module {
  private readonly childModules = new Map<string, Module>();
  private readonly ownParameters = new Map<string, Parameter>();
  private readonly ownBuffers = new Map<string, Buffer>();
  /** True in training mode (BatchNorm uses batch statistics and updates running stats). */
  training = true;

  /** Registers a child module under an official name and returns it (so fields can be assigned in one line). */
  protected addModule<M extends Module>(name: string, module: M): M {
    this.childModules.set(name, module);
    return module;
  }

  protected addParameter(name: string, parameter: Parameter): Parameter {
    this.ownParameters.set(name, parameter);
    return parameter;
  }

  protected addBuffer(name: string, buffer: Buffer): Buffer {
    this.ownBuffers.set(name, buffer);
    return buffer;
  }

  /** Direct children in registration order. */
  namedChildren(): Array<[string, Module]> {
    return [...this.childModules.entries()];
  }

  /** Every module of the tree (this one first), with dotted names; a module reached twice is listed once. */
  namedModules(prefix = '', seen = new Set<Module>()): Array<[string, Module]> {
    if (seen.has(this)) return [];
    seen.add(this);
    const result: Array<[string, Module]> = [[prefix, this]];
    for (const [name, child] of this.childModules) {
      result.push(...child.namedModules(prefix ? `${prefix}.${name}` : name, seen));
    }
    return result;
  }

  /** Every (key, parameter) pair, including repeated keys of tied parameters, in state_dict order. */
  namedParameters(): Array<[string, Parameter]> {
    return this.stateEntries()
      .filter((entry) => entry.kind === 'parameter')
      .map((entry) => [entry.key, entry.owner as Parameter]);
  }

  /** Unique trainable parameters (a tied parameter appears once). */
  parameters(): Parameter[] {
    return [...new Set(this.namedParameters().map(([, parameter]) => parameter))];
  }

  /** Unique buffers. */
  buffers(): Buffer[] {
    return [
      ...new Set(
        this.stateEntries()
          .filter((e) => e.kind === 'buffer')
          .map((e) => e.owner as Buffer),
      ),
    ];
  }

  /** Entries of the state dict in official order: per module, its parameters, then its buffers, then children. */
  stateEntries(prefix = ''): StateEntry[] {
    const entries: StateEntry[] = [];
    const join = (name: string) => (prefix ? `${prefix}.${name}` : name);
    for (const [name, parameter] of this.ownParameters) {
      entries.push({
        key: join(name),
        tensor: parameter.variable,
        layout: parameter.layout,
        kind: 'parameter',
        owner: parameter,
      });
    }
    for (const [name, buffer] of this.ownBuffers) {
      entries.push({
        key: join(name),
        tensor: buffer.variable,
        layout: SAME_LAYOUT,
        kind: 'buffer',
        owner: buffer,
      });
    }
    for (const [name, child] of this.childModules) entries.push(...child.stateEntries(join(name)));
    return entries;
  }

  /** Official key -> live native tensor (not copies: do not dispose them). */
  stateDict(): Map<string, tf.Tensor> {
    return new Map(this.stateEntries().map((entry) => [entry.key, entry.tensor]));
  }

  /**
   * Copies tensors (native layout) into the model by official key. Every problem is collected and reported at
   * once: shape mismatches always throw; missing/unexpected keys throw only in strict mode.
   */
  loadStateDict(source: Map<string, tf.Tensor>, options: LoadStateDictOptions = {}): LoadStateDictReport {
    const strict = options.strict ?? true;
    const entries = this.stateEntries();
    const known = new Set(entries.map((e) => e.key));
    const missing = entries.filter((e) => !source.has(e.key)).map((e) => e.key);
    const unexpected = [...source.keys()].filter((key) => !known.has(key));
    const problems: string[] = [];
    for (const entry of entries) {
      const incoming = source.get(entry.key);
      if (incoming && !sameShape(incoming.shape, entry.tensor.shape)) {
        problems.push(`${entry.key}: expected shape [${entry.tensor.shape}], got [${incoming.shape}]`);
      }
    }
    if (strict) {
      for (const key of missing) problems.push(`${key}: missing`);
      for (const key of unexpected) problems.push(`${key}: unexpected`);
    }
    if (problems.length > 0) throw new Error(`loadStateDict failed:\n  ${problems.join('\n  ')}`);
    for (const entry of entries) {
      const incoming = source.get(entry.key);
      const variable = (entry.owner as Parameter | Buffer).variable;
      // Loading a model's own tensors back is a no-op (and tfjs cannot assign a variable to itself).
      if (!incoming || incoming.dataId === variable.dataId) continue;
      tf.tidy(() =>
        variable.assign(incoming.dtype === variable.dtype ? incoming : tf.cast(incoming, variable.dtype)),
      );
    }
    return { missing, unexpected };
  }

  /** Training mode on the whole tree. */
  train(mode = true): this {
    for (const [, module] of this.namedModules()) module.training = mode;
    return this;
  }

  /** Inference mode on the whole tree (BatchNorm uses running statistics). */
  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter and buffer of the tree. */
  dispose(): void {
    for (const entry of new Set(this.stateEntries().map((e) => e.owner))) entry.variable.dispose();
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** An indexed list of modules (`stages.0`, `stages.1`, ...), like torch.nn.ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(items: Iterable<M> = []) {
    super();
    for (const item of items) this.push(item);
  }
  push(item: M): void {
    this.addModule(String(this.items.length), item);
    this.items.push(item);
  }
  get length(): number {
    return this.items.length;
  }
  /** The item at `index`; negative indices count from the end, like Array.prototype.at. */
  at(index: number): M {
    return this.items.at(index) as M;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
