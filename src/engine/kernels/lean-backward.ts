/**
 * `tf.variableGrads` with the memory of a framework that frees as it goes.
 *
 * tfjs-core's backward pass keeps every intermediate gradient and every tensor saved for backward until the whole
 * pass ends, so a training step peaks at about twice its forward activations: rla_resnet50 at 224x224 needed
 * 3.3 GB of the wasm backend's 4 GB heap for 4 images. Here a tensor's gradient is released as soon as the op
 * that produced the tensor has been differentiated (every consumer comes later on the tape, so by then it is
 * complete), and each op's saved tensors right after its own gradient ran. Same tape, same gradient functions,
 * same results; only the lifetimes change.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs's (internal) tape node this relies on. */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

/** The parts of tfjs's Engine (private API, stable across 4.x) this relies on. */
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
}

/** Nodes on a path from `xs` to `y`, inputs pruned to those depending on `xs` (as tfjs's getFilteredNodesXToY). */
function nodesFromXToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((input) => fromX.has(input.id))) {
      for (const output of node.outputs) fromX.add(output.id);
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((output) => toY.has(output.id))) {
      for (const input of Object.values(node.inputs)) toY.add(input.id);
      nodesToY.add(node.id);
    }
  }
  return tape
    .filter((node) => nodesFromX.has(node.id) && nodesToY.has(node.id))
    .map((node) => ({
      ...node,
      inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, input]) => fromX.has(input.id))),
    }));
}

/** Disposes a node's saved tensors (the pruned copy shares the original's array; disposing twice is a no-op). */
function disposeSaved(node: TapeNode): void {
  for (const tensor of node.saved ?? []) tensor.dispose();
}

/**
 * Value of the scalar `f()` and its gradients with respect to the trainable `variables` (keyed by variable name,
 * absent for variables `f` does not depend on), like `tf.variableGrads`, freeing memory during the backward pass.
 * Not for use inside another gradient computation.
 */
export function leanVariableGrads(
  f: () => tf.Scalar,
  variables: tf.Variable[],
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state.gradientDepth !== 0)
    throw new Error('leanVariableGrads: nested gradients are not supported');
  const xs = variables.filter((v) => v.trainable);
  const value = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  if (!(value instanceof tf.Tensor) || value.rank !== 0)
    throw new Error('leanVariableGrads: f must return a scalar');
  const tape = engine.state.activeTape ?? [];
  const isX = new Set(xs.map((x) => x.id));
  try {
    const grads = engine.tidy('backward', () => {
      const accumulated = new Map<number, tf.Tensor>([[value.id, tf.onesLike(value)]]);
      const nodes = nodesFromXToY(tape, xs, value);
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i];
        if (!node.gradient)
          throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const dys = node.outputs.map((output) => accumulated.get(output.id) ?? null);
        const inputGradients = node.gradient(dys);
        const handedOut = new Set<tf.Tensor>(dys.filter((dy): dy is tf.Tensor => dy !== null));
        for (const [name, input] of Object.entries(node.inputs)) {
          if (!(name in inputGradients))
            throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
          let dx = engine.tidy(() => inputGradients[name]());
          // A gradient function may hand back dy itself, or one tensor for two inputs; each stored gradient must be
          // a reference of its own, since it is released independently.
          if (handedOut.has(dx)) dx = dx.clone();
          handedOut.add(dx);
          const current = accumulated.get(input.id);
          if (current) {
            accumulated.set(input.id, tf.add(current, dx));
            current.dispose();
            dx.dispose();
          } else {
            accumulated.set(input.id, dx);
          }
        }
        // Every consumer of these outputs came later on the tape: their gradients are complete and now used.
        for (const output of node.outputs) {
          const dy = accumulated.get(output.id);
          if (dy && !isX.has(output.id)) {
            dy.dispose();
            accumulated.delete(output.id);
          }
        }
        disposeSaved(node);
      }
      const named: tf.NamedTensorMap = {};
      for (const x of xs) {
        const grad = accumulated.get(x.id);
        if (grad) named[x.name] = grad;
      }
      return named;
    });
    return { value, grads };
  } finally {
    for (const node of tape) disposeSaved(node);
    engine.state.activeTape = null;
  }
}
