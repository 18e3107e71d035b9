/**
 * `OnnxBuilder`: the graph under construction while a model is exported. It hands out unique value and node
 * names, holds the initializers (deduplicated by key, so a tied parameter is stored once) and the nodes in
 * topological order (emitters append them in execution order), and knows the module paths of the model so
 * that nodes and weights carry the official state_dict names (`stages.0.0.conv1.weight`).
 *
 * Values are ONNX value names (strings); every 4-D value is NCHW.
 */
import type { Module } from '../nn/module.js';
import {
  type AttributeValue,
  DataType,
  type Dim,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto.js';

/** An ONNX value name. */
export type Value = string;

/** Options that change what the emitters write. */
export interface BuilderOptions {
  /** Default-domain opset the graph targets. */
  opset: number;
  /** Fold every BatchNorm that follows a conv into the conv's weights and bias. */
  foldBatchNorm: boolean;
}

/** INT attribute. */
export const int = (value: number): AttributeValue => ({ kind: 'int', value });
/** INTS attribute. */
export const ints = (value: number[]): AttributeValue => ({ kind: 'ints', value });
/** FLOAT attribute. */
export const float = (value: number): AttributeValue => ({ kind: 'float', value });

/** Little-endian bytes of a Float32Array (a view when the platform is little-endian, as all supported are). */
function float32Bytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => {
    view.setBigInt64(i * 8, BigInt(value), true);
  });
  return bytes;
}

export class OnnxBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly constants = new Map<string, Value>();
  private readonly usedNames = new Set<string>();
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly modulePaths = new Map<Module, string>();
  private readonly scopes: string[] = [];

  constructor(
    readonly options: BuilderOptions,
    root?: Module,
  ) {
    // namedModules lists a module reached twice (tied) once, under its first path: shared weights get one name.
    if (root) for (const [path, module] of root.namedModules()) this.modulePaths.set(module, path);
  }

  /** Official dotted path of a module of the exported model ('' for the root, undefined if unregistered). */
  pathOf(module: Module): string | undefined {
    return this.modulePaths.get(module);
  }

  /** Runs `emit` with node names prefixed by the module's path (its class name if unregistered) or `scope`. */
  scoped<T>(module: Module | string, emit: () => T): T {
    const path = typeof module === 'string' ? module : (this.pathOf(module) ?? module.constructor.name);
    this.scopes.push(path);
    try {
      return emit();
    } finally {
      this.scopes.pop();
    }
  }

  /** A name not used yet in the graph, derived from `base`. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  /** Declares a float graph input. */
  input(name: string, shape: Dim[]): Value {
    if (this.usedNames.has(name)) throw new Error(`ONNX export: value name ${name} is taken`);
    this.usedNames.add(name);
    this.inputs.push({ name, elemType: DataType.FLOAT, shape });
    return name;
  }

  /** Exposes `value` as a float graph output named `name` (through an Identity node when renamed). */
  output(value: Value, name: string, shape: Dim[] | null): void {
    if (this.outputs.some((output) => output.name === name))
      throw new Error(`ONNX export: output ${name} twice`);
    if (value !== name) {
      if (this.usedNames.has(name)) throw new Error(`ONNX export: value name ${name} is taken`);
      this.usedNames.add(name);
      this.nodes.push({ opType: 'Identity', name, inputs: [value], outputs: [name], attributes: {} });
    }
    this.outputs.push({ name, elemType: DataType.FLOAT, shape });
  }

  /**
   * Appends a node and returns its outputs. The node is named after the current scope and its op type;
   * its outputs after the node.
   */
  nodeMulti(
    opType: string,
    inputs: Value[],
    attributes: Record<string, AttributeValue>,
    outputCount: number,
  ): Value[] {
    const scope = this.scopes.at(-1);
    const name = this.uniqueName(scope ? `${scope}/${opType}` : opType);
    const outputs =
      outputCount === 1
        ? [name]
        : Array.from({ length: outputCount }, (_, i) => this.uniqueName(`${name}:${i}`));
    this.nodes.push({ opType, name, inputs, outputs, attributes });
    return outputs;
  }

  /** Appends a single-output node and returns its output. */
  node(opType: string, inputs: Value[], attributes: Record<string, AttributeValue> = {}): Value {
    return this.nodeMulti(opType, inputs, attributes, 1)[0];
  }

  /**
   * A float initializer, created once per `key` (`make` runs only the first time): the same module exported
   * twice, or a parameter tied under several names, is stored once. `name` is the preferred tensor name.
   */
  floatConstant(key: string, name: string, dims: number[], make: () => Float32Array): Value {
    const existing = this.constants.get(key);
    if (existing) return existing;
    const data = make();
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new Error(`ONNX export: ${name} has ${data.length} values for dims [${dims}]`);
    }
    return this.addInitializer(key, name, DataType.FLOAT, dims, float32Bytes(data));
  }

  /** A small float constant by value (scalars, Clip bounds). */
  floatValues(values: readonly number[], dims: number[] = [values.length]): Value {
    const key = `float:${dims.join('x')}:${values.join(',')}`;
    return this.floatConstant(key, 'const_f', dims, () => Float32Array.from(values));
  }

  /** A 1-D int64 constant by value (shapes, axes, split sizes). */
  int64Values(values: readonly number[]): Value {
    const key = `int64:${values.join(',')}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    return this.addInitializer(key, 'const_i', DataType.INT64, [values.length], int64Bytes(values));
  }

  private addInitializer(
    key: string,
    name: string,
    dataType: TensorProto['dataType'],
    dims: number[],
    rawData: Uint8Array,
  ): Value {
    const unique = this.uniqueName(name);
    this.initializers.push({ name: unique, dataType, dims, rawData });
    this.constants.set(key, unique);
    return unique;
  }

  /** The finished graph. */
  graph(name: string): GraphProto {
    return {
      name,
      nodes: [...this.nodes],
      initializers: [...this.initializers],
      inputs: [...this.inputs],
      outputs: [...this.outputs],
    };
  }
}
