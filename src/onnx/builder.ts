/**
 * `OnnxBuilder`: the graph under construction while a model is exported. It hands out unique value and node
 * names, holds the initializers (deduplicated by key, so a tied parameter is stored once) and the nodes in
 * topological order (emitters append them in execution order), and knows the module paths of the model so
 * that nodes and weights carry the official state_dict names (`stages.0.0.conv1.weight`).
 *
 * Values are ONNX value names (strings); every 4-D value is NCHW.
 */
import type { Buffer, Module, Parameter } from '../nn/module.js';
import { numel } from '../util/shape.js';
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
  /**
   * Write the training-mode function (default false): parameters and buffers become graph inputs
   * ({@link OnnxBuilder.stateInputs}), BatchNorm normalises with batch statistics and reports its new running
   * statistics ({@link OnnxBuilder.stateUpdates}), Dropout multiplies by a mask fed per step.
   */
  training?: boolean;
  /** Fixed batch size of a training graph (Dropout masks are drawn at this size). */
  batchSize?: number;
}

/** A parameter or buffer that a training graph reads as an input (PyTorch layout, official name). */
export interface StateInput {
  name: string;
  holder: Parameter | Buffer;
  kind: 'parameter' | 'buffer';
  dims: number[];
  /** Its current value in PyTorch layout (a copy). */
  read: () => Float32Array;
}

/** A per-step random input of a training graph (a Dropout mask), drawn by the caller before each run. */
export interface RandomInput {
  name: string;
  dims: number[];
  /** Draws the next value with the module's own generator (what the TF.js module would draw). */
  draw: () => Float32Array;
}

/**
 * A span of nodes differentiated as a whole by `backward` instead of node by node (BatchNorm's closed-form
 * gradient). `backward` emits the gradient of each of `inputs` (null: none) from the gradient of `output`.
 */
export interface GradientRegion {
  firstNode: number;
  endNode: number;
  inputs: Value[];
  output: Value;
  backward: (b: OnnxBuilder, dOutput: Value) => Array<Value | null>;
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
  /** Initializers whose bytes are read when the graph is finished (so tracing never touches real tensors). */
  private readonly initializers: Array<{ proto: Omit<TensorProto, 'rawData'>; bytes: () => Uint8Array }> = [];
  private readonly constants = new Map<string, Value>();
  private readonly usedNames = new Set<string>();
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  /** Identity nodes written by `output` to give a value its output name (see `graph`). */
  private readonly outputCopies = new Set<string>();
  private readonly modulePaths = new Map<Module, string>();
  private readonly scopes: string[] = [];
  private readonly int64Constants = new Map<Value, readonly number[]>();
  private readonly stateByHolder = new Map<Parameter | Buffer, Value>();
  /** Training graphs: the parameters and buffers read as inputs, in first-use order. */
  readonly stateInputs: StateInput[] = [];
  /** Training graphs: buffer input name -> the value of its update (BN running statistics). */
  readonly stateUpdates = new Map<string, Value>();
  /** Training graphs: Dropout masks fed per step. */
  readonly randomInputs: RandomInput[] = [];
  /** Node spans with a closed-form gradient. */
  readonly regions: GradientRegion[] = [];

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

  /** Whether this graph computes the training-mode function (see {@link BuilderOptions.training}). */
  get training(): boolean {
    return this.options.training ?? false;
  }

  /**
   * A parameter or buffer of the model: an initializer (`floatConstant`) in inference graphs, a graph input
   * named after its official key in training graphs (one input per object, so tied weights stay tied).
   */
  state(
    holder: Parameter | Buffer,
    kind: 'parameter' | 'buffer',
    key: string,
    name: string,
    dims: number[],
    read: () => Float32Array,
  ): Value {
    if (!this.training) return this.floatConstant(key, name, dims, read);
    const existing = this.stateByHolder.get(holder);
    if (existing) return existing;
    const value = this.input(name, dims);
    this.stateByHolder.set(holder, value);
    this.stateInputs.push({ name: value, holder, kind, dims, read });
    return value;
  }

  /** A Dropout mask input of a training graph. */
  randomInput(name: string, dims: number[], draw: () => Float32Array): Value {
    const value = this.uniqueName(name);
    this.inputs.push({ name: value, elemType: DataType.FLOAT, shape: dims });
    this.randomInputs.push({ name: value, dims, draw });
    return value;
  }

  /** Emits nodes with `emit` and differentiates them as one region with `backward` (see GradientRegion). */
  region(inputs: Value[], emit: () => Value, backward: GradientRegion['backward']): Value {
    const firstNode = this.nodes.length;
    const output = emit();
    this.regions.push({ firstNode, endNode: this.nodes.length, inputs, output, backward });
    return output;
  }

  /** The values of an int64 constant made by `int64Values` (undefined for any other value). */
  int64ValuesOf(value: Value): readonly number[] | undefined {
    return this.int64Constants.get(value);
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
      this.outputCopies.add(name);
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
    const expected = numel(dims);
    // Read once, when the graph is finished: addInitializer keeps the bytes.
    return this.addInitializer(key, name, DataType.FLOAT, dims, () => {
      const data = make();
      if (data.length !== expected) {
        throw new Error(`ONNX export: ${name} has ${data.length} values for dims [${dims}]`);
      }
      return float32Bytes(data);
    });
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
    const bytes = int64Bytes(values);
    const value = this.addInitializer(key, 'const_i', DataType.INT64, [values.length], () => bytes);
    this.int64Constants.set(value, [...values]);
    return value;
  }

  private addInitializer(
    key: string,
    name: string,
    dataType: TensorProto['dataType'],
    dims: number[],
    bytes: () => Uint8Array,
  ): Value {
    const unique = this.uniqueName(name);
    let read: Uint8Array | null = null;
    this.initializers.push({ proto: { name: unique, dataType, dims }, bytes: () => (read ??= bytes()) });
    this.constants.set(key, unique);
    return unique;
  }

  /**
   * Replaces the node at `index` by the nodes `emit` writes (appended, then moved into its place); the last of
   * them is renamed to produce the replaced node's output, so its consumers are unchanged. Regions after it move;
   * regions `emit` writes move with its nodes.
   */
  replaceNode(index: number, emit: (node: NodeProto) => Value): void {
    const node = this.nodes[index];
    if (node.outputs.length !== 1) throw new Error(`replaceNode: ${node.name} has several outputs`);
    const start = this.nodes.length;
    const regionsBefore = this.regions.length;
    const value = emit(node);
    const added = this.nodes.splice(start);
    const last = added.at(-1);
    if (!last || last.outputs[0] !== value)
      throw new Error('replaceNode: emit must return its last node output');
    last.outputs[0] = node.outputs[0];
    this.nodes.splice(index, 1, ...added);
    this.regions.forEach((region, r) => {
      if (r >= regionsBefore) {
        // Written by emit: its nodes moved from the end to `index`, its output renamed with theirs.
        region.firstNode += index - start;
        region.endNode += index - start;
        if (region.output === value) region.output = node.outputs[0];
        return;
      }
      if (region.firstNode > index) region.firstNode += added.length - 1;
      if (region.endNode > index) region.endNode += added.length - 1;
    });
  }

  /**
   * Inserts the nodes `emit` writes before the node at `index` and returns emit's value, renamed to `name` when
   * given (the last node written must produce it). Regions from `index` on move; a region must not span `index`.
   */
  insertNodes(index: number, name: Value | undefined, emit: () => Value): Value {
    const start = this.nodes.length;
    let value = emit();
    const added = this.nodes.splice(start);
    if (name !== undefined) {
      const last = added.at(-1);
      if (!last || last.outputs[0] !== value)
        throw new Error('insertNodes: emit must return its last node output');
      last.outputs[0] = name;
      value = name;
    }
    for (const region of this.regions) {
      if (region.firstNode < index && region.endNode > index)
        throw new Error(`insertNodes: index ${index} is inside a gradient region`);
      if (region.firstNode >= index) {
        region.firstNode += added.length;
        region.endNode += added.length;
      }
    }
    this.nodes.splice(index, 0, ...added);
    return value;
  }

  /**
   * An ONNX `If` on `condition` (a bool scalar): `emit`'s nodes form its then-branch and its outputs are the
   * values `emit` returns there, `otherwise` (same count, same shapes) where the condition is false. The branch
   * reads the values around it by name. Lets a step update its state in place, in the arrays it was fed (the
   * nodes that read the old values all run before the `If`, which consumes the gradients), and still leave the
   * state untouched after a non-finite loss.
   */
  conditional(condition: Value, emit: () => Value[], otherwise: Value[]): Value[] {
    const start = this.nodes.length;
    const values = emit();
    if (values.length !== otherwise.length)
      throw new Error(`conditional: ${values.length} values, ${otherwise.length} fallbacks`);
    const branch = (name: string, nodes: NodeProto[], outputs: Value[]): GraphProto => ({
      name,
      nodes,
      initializers: [],
      inputs: [],
      outputs: outputs.map((output) => ({ name: output, elemType: DataType.FLOAT, shape: null })),
    });
    const thenNodes = this.nodes.splice(start);
    const name = this.uniqueName('If');
    // A branch output must be produced in the branch: copies for the values computed outside it.
    const copied = (branchName: string, nodes: NodeProto[], sources: Value[]): Value[] => {
      const produced = new Set(nodes.flatMap((node) => node.outputs));
      return sources.map((source) => {
        if (produced.has(source)) return source;
        const copy = this.uniqueName(`${name}/${branchName}/${source}`);
        nodes.push({ opType: 'Identity', name: copy, inputs: [source], outputs: [copy], attributes: {} });
        return copy;
      });
    };
    const elseNodes: NodeProto[] = [];
    const thenOutputs = copied('then', thenNodes, values);
    const elseOutputs = copied('else', elseNodes, otherwise);
    const outputs = values.map((_, i) => this.uniqueName(`${name}:${i}`));
    this.nodes.push({
      opType: 'If',
      name,
      inputs: [condition],
      outputs,
      attributes: {
        then_branch: { kind: 'graph', value: branch(`${name}/then`, thenNodes, thenOutputs) },
        else_branch: { kind: 'graph', value: branch(`${name}/else`, elseNodes, elseOutputs) },
      },
    });
    return outputs;
  }

  /** Names of the graph outputs declared so far. */
  get outputNames(): Value[] {
    return this.outputs.map((output) => output.name);
  }

  /** Nodes written so far (in execution order). */
  get nodeList(): readonly NodeProto[] {
    return this.nodes;
  }

  /**
   * The finished graph. `output` names a value through an Identity node, so value names stay stable while the
   * graph is built; here each such copy of an intermediate value that no other output names is dropped and the
   * value renamed instead: ONNX Runtime runs every node, and those copies cost a full pass over each output every
   * run (5% of a training step, whose outputs are every parameter and momentum buffer). Nodes no output depends
   * on are dropped too. `asBuilt` keeps every node and name as built (the shape probe adds every value as an
   * output, by those names).
   */
  graph(name: string, options: { asBuilt?: boolean } = {}): GraphProto {
    return {
      name,
      nodes: options.asBuilt ? [...this.nodes] : this.liveNodes(this.nodesWithoutOutputCopies()),
      initializers: this.initializers.map(({ proto, bytes }) => ({ ...proto, rawData: bytes() })),
      inputs: [...this.inputs],
      outputs: [...this.outputs],
    };
  }

  /**
   * The nodes some graph output depends on. ONNX Runtime runs every node, read or not, and a gradient rule may
   * write a value nobody reads (the stem conv's input gradient, where the images need none: 48 ms of a 224x224
   * training step at batch 16).
   */
  private liveNodes(nodes: NodeProto[]): NodeProto[] {
    const needed = new Set(this.outputs.map((output) => output.name));
    const live: NodeProto[] = [];
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      if (!node.outputs.some((output) => needed.has(output))) continue;
      live.push(node);
      for (const input of valuesRead(node)) needed.add(input);
    }
    return live.reverse();
  }

  private nodesWithoutOutputCopies(): NodeProto[] {
    const produced = new Set(this.nodes.flatMap((node) => node.outputs));
    const outputNames = new Set(this.outputs.map((output) => output.name));
    const renamed = new Map<Value, Value>();
    const dropped = new Set<string>();
    for (const node of this.nodes) {
      if (!this.outputCopies.has(node.name)) continue;
      const source = node.inputs[0];
      // Graph inputs, initializers and values that are outputs themselves keep their names (and the copy).
      if (!produced.has(source) || outputNames.has(source) || renamed.has(source)) continue;
      renamed.set(source, node.outputs[0]);
      dropped.add(node.name);
    }
    const rename = (value: Value) => renamed.get(value) ?? value;
    return this.nodes.filter((node) => !dropped.has(node.name)).map((node) => renameValues(node, rename));
  }
}

/** A node with its inputs and outputs renamed, in its subgraphs too (they read the values around them by name). */
function renameValues(node: NodeProto, rename: (value: Value) => Value): NodeProto {
  const attributes = { ...node.attributes };
  for (const [key, attribute] of Object.entries(attributes)) {
    if (attribute.kind !== 'graph') continue;
    const graph = attribute.value;
    attributes[key] = {
      kind: 'graph',
      value: {
        ...graph,
        nodes: graph.nodes.map((inner) => renameValues(inner, rename)),
        outputs: graph.outputs.map((output) => ({ ...output, name: rename(output.name) })),
      },
    };
  }
  return { ...node, inputs: node.inputs.map(rename), outputs: node.outputs.map(rename), attributes };
}

/** The values a node reads: its inputs, and for a node with subgraphs the outer values they read. */
function valuesRead(node: NodeProto): Value[] {
  const read = [...node.inputs];
  for (const attribute of Object.values(node.attributes)) {
    if (attribute.kind !== 'graph') continue;
    const graph = attribute.value;
    const local = new Set([
      ...graph.inputs.map((input) => input.name),
      ...graph.initializers.map((initializer) => initializer.name),
      ...graph.nodes.flatMap((inner) => inner.outputs),
    ]);
    for (const inner of graph.nodes) read.push(...valuesRead(inner).filter((value) => !local.has(value)));
    read.push(...graph.outputs.map((output) => output.name).filter((value) => !local.has(value)));
  }
  return read;
}
