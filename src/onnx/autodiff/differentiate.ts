/**
 * Reverse-mode differentiation of a graph under construction: appends to the builder the nodes that compute
 * d(loss)/d(value) for each value in `wrt`, walking the forward nodes backwards with one rule per op type
 * (`rules.ts`), or a region's closed-form backward where the forward marked one (BatchNorm). Only nodes on a path
 * from `wrt` to the loss are differentiated; a value used several times sums its gradients.
 */
import type { GradientRegion, OnnxBuilder, Value } from '../builder.js';
import type { NodeProto } from '../onnx-proto.js';
import { GRADIENT_RULES, type GradContext } from './rules.js';

/** One step of the backward walk: a node, or a region standing for its span of nodes. */
type Step = { kind: 'node'; node: NodeProto } | { kind: 'region'; region: GradientRegion };

function inputsOf(step: Step): readonly Value[] {
  return step.kind === 'node' ? step.node.inputs : step.region.inputs;
}

function outputsOf(step: Step): readonly Value[] {
  return step.kind === 'node' ? step.node.outputs : [step.region.output];
}

/** The forward nodes as steps, each region's nodes replaced by the region (placed where it ends). */
function forwardSteps(b: OnnxBuilder, nodeCount: number): Step[] {
  const regionAtEnd = new Map<number, GradientRegion>();
  const insideRegion = new Set<number>();
  for (const region of b.regions) {
    if (region.endNode > nodeCount) continue;
    regionAtEnd.set(region.endNode - 1, region);
    for (let i = region.firstNode; i < region.endNode; i++) insideRegion.add(i);
  }
  const steps: Step[] = [];
  b.nodeList.slice(0, nodeCount).forEach((node, i) => {
    const region = regionAtEnd.get(i);
    if (region) steps.push({ kind: 'region', region });
    else if (!insideRegion.has(i)) steps.push({ kind: 'node', node });
  });
  return steps;
}

/**
 * Appends the gradient of the scalar `loss` with respect to each of `wrt` and returns them by value (a value the
 * loss does not depend on is absent). `shapeOf` gives the static shape of every forward value.
 */
export function differentiate(
  b: OnnxBuilder,
  loss: Value,
  wrt: readonly Value[],
  shapeOf: (value: Value) => readonly number[],
): Map<Value, Value> {
  const steps = forwardSteps(b, b.nodeList.length);
  // Values that depend on a differentiated input: only they need gradients.
  const dependent = new Set<Value>(wrt);
  for (const step of steps) {
    if (inputsOf(step).some((input) => dependent.has(input))) {
      for (const output of outputsOf(step)) dependent.add(output);
    }
  }
  if (!dependent.has(loss)) throw new Error('the loss does not depend on any trainable value');

  const pending = new Map<Value, Value[]>([[loss, [b.floatValues([1], [])]]]);
  const gradientOf = (value: Value): Value | null => {
    const parts = pending.get(value);
    if (!parts || parts.length === 0) return null;
    if (parts.length > 1) pending.set(value, [b.node('Sum', parts)]);
    return (pending.get(value) as Value[])[0];
  };

  for (let s = steps.length - 1; s >= 0; s--) {
    const step = steps[s];
    const inputs = inputsOf(step);
    if (!inputs.some((input) => dependent.has(input))) continue;
    const dOutputs = outputsOf(step).map(gradientOf);
    if (dOutputs.every((d) => d === null)) continue;
    let dInputs: Array<Value | null>;
    if (step.kind === 'region') {
      dInputs = b.scoped('grad', () => step.region.backward(b, dOutputs[0] as Value));
    } else {
      const rule = GRADIENT_RULES[step.node.opType];
      if (!rule) throw new Error(`no gradient rule for ONNX op ${step.node.opType} (node ${step.node.name})`);
      const node = step.node;
      const ctx: GradContext = { b, node, shape: shapeOf, wants: (i) => dependent.has(node.inputs[i]) };
      dInputs = b.scoped(`grad/${step.node.name}`, () => rule(ctx, dOutputs));
    }
    inputs.forEach((input, i) => {
      const d = dInputs[i];
      if (!d || !dependent.has(input)) return;
      const parts = pending.get(input);
      if (parts) parts.push(d);
      else pending.set(input, [d]);
    });
  }

  const gradients = new Map<Value, Value>();
  for (const value of wrt) {
    const d = gradientOf(value);
    if (d) gradients.set(value, d);
  }
  return gradients;
}
