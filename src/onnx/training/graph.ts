/**
 * The whole SGD step of a model as one ONNX graph: the model's forward in training mode (traced from its TF.js
 * forward like the inference export, see ../trace/), cross-entropy with optional label smoothing, the backward pass derived by
 * `differentiate`, and torch.optim.SGD's update (weight decay added to the gradient, momentum, Nesterov).
 *
 * Inputs: `images` NHWC float32 [N, H, W, 3], `target` [N, classes] (the smoothed one-hot distribution), `lr`
 * (scalar), every parameter and buffer under its official key (PyTorch layout), every parameter's momentum
 * buffer as `momentum:<key>`, and the Dropout masks. Outputs: `loss`, `logits`, and the next value of every
 * parameter (`<key>:next`), momentum buffer (`momentum:<key>:next`) and BN running statistic (`<key>:next`).
 */
import type { ClassifierModel } from '../../models/classifier.js';
import { numel } from '../../util/shape.js';
import { differentiate } from '../autodiff/differentiate.js';
import { int, ints, OnnxBuilder, type RandomInput, type StateInput, type Value } from '../builder.js';
import { irVersionForOpset, type ModelProto } from '../onnx-proto.js';
import { traceModel } from '../trace/trace-model.js';
import { reduceSum } from '../training-layers.js';

/** Opset of training graphs (ReduceMean takes axes as an attribute, ScatterElements adds). */
export const TRAINING_OPSET = 17;

/** torch.optim.SGD's hyper-parameters other than the learning rate (fed per step). */
export interface SgdHyperParameters {
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

export interface TrainingGraphOptions {
  batchSize: number;
  height: number;
  width: number;
  sgd: SgdHyperParameters;
  /**
   * Also output every gradient (`<key>:grad`: tests, gradient checks). Off by default: ONNX Runtime computes every
   * graph output whether fetched or not, and an output's memory cannot be reused within the step.
   */
  gradientOutputs?: boolean;
}

/** Names of a training graph's fixed inputs and outputs. */
export const TRAIN_IO = {
  images: 'images',
  target: 'target',
  lr: 'lr',
  loss: 'loss',
  logits: 'logits',
} as const;

export const momentumName = (parameter: string) => `momentum:${parameter}`;
export const nextName = (value: string) => `${value}:next`;
export const gradName = (parameter: string) => `${parameter}:grad`;

/** A training graph before serialisation, with what its caller needs to feed and read it. */
export interface TrainingGraph {
  model: ModelProto;
  /** Parameters that receive an update (those the loss depends on). */
  parameters: StateInput[];
  /** Parameters the loss does not depend on: fed, never updated (PyTorch skips them too). */
  frozen: StateInput[];
  /** Buffers (BN running statistics); `updated` lists those with a `:next` output. */
  buffers: StateInput[];
  updated: Set<string>;
  randomInputs: RandomInput[];
}

/** The training-mode forward and loss, before differentiation (shared with the shape probe). */
export interface ForwardGraph {
  b: OnnxBuilder;
  loss: Value;
  logits: Value;
}

/** Writes the training-mode forward of `model` and the mean cross-entropy (label smoothing `smoothing`). */
export function buildTrainingForward(model: ClassifierModel, options: TrainingGraphOptions): ForwardGraph {
  const { batchSize, height, width } = options;
  model.checkInputSize(height, width);
  const b = new OnnxBuilder(
    { opset: TRAINING_OPSET, foldBatchNorm: false, training: true, batchSize },
    model,
  );
  const images = b.input(TRAIN_IO.images, [batchSize, height, width, 3]);
  const nchw = b.node('Transpose', [images], { perm: ints([0, 3, 1, 2]) });
  const { logits } = traceModel(b, model, nchw, [batchSize, 3, height, width]);
  const target = b.input(TRAIN_IO.target, [batchSize, model.numClasses]);
  const logProbs = b.node('LogSoftmax', [logits], { axis: int(1) });
  const total = reduceSum(b, b.node('Mul', [target, logProbs]), [0, 1], false);
  const loss = b.node('Mul', [total, b.floatValues([-1 / batchSize], [])]);
  return { b, loss, logits };
}

/** Appends the backward pass and the SGD update to `forward`, and declares the graph's outputs. */
export function finishTrainingGraph(
  model: ClassifierModel,
  forward: ForwardGraph,
  options: TrainingGraphOptions,
  shapeOf: (value: Value) => readonly number[],
): TrainingGraph {
  const { b, loss, logits } = forward;
  const all = b.stateInputs.filter((s) => s.kind === 'parameter');
  const gradients = differentiate(
    b,
    loss,
    all.map((p) => p.name),
    shapeOf,
  );
  const lr = b.input(TRAIN_IO.lr, []);
  const { momentum, weightDecay, nesterov } = options.sgd;
  const parameters = all.filter((p) => gradients.has(p.name));
  b.output(loss, TRAIN_IO.loss, []);
  b.output(logits, TRAIN_IO.logits, [options.batchSize, model.numClasses]);
  b.scoped('sgd', () => {
    // The update runs on flat views ([numel], a free Reshape): ONNX Runtime's broadcasting of a scalar over a
    // tensor whose trailing dimensions are 1 (every 1x1 conv weight, [O, I, 1, 1]) runs element by element, about
    // ten times slower than over a flat tensor. Momentum buffers and next values are flat; same data order.
    const flat = b.int64Values([-1]);
    const scalar = (value: number) => b.floatValues([value], []);
    const steps = parameters.map((p) => {
      const gradient = gradients.get(p.name) as Value;
      if (options.gradientOutputs) b.output(gradient, gradName(p.name), p.dims);
      const size = [numel(p.dims)];
      return {
        p,
        size,
        weight: b.node('Reshape', [p.name, flat]),
        gradient: b.node('Reshape', [gradient, flat]),
        buffer: momentum !== 0 ? b.input(momentumName(p.name), size) : undefined,
      };
    });
    // Every update (parameters, momentum, BN running statistics) is one `If` on a finite loss, written into the
    // arrays the step was fed (session.ts): a non-finite loss leaves them as they were without a second set.
    const updated: Array<{ name: string; old: Value; dims: number[] | null }> = [];
    for (const { p, size, weight, buffer } of steps) {
      if (buffer) updated.push({ name: nextName(buffer), old: buffer, dims: size });
      updated.push({ name: nextName(p.name), old: weight, dims: size });
    }
    for (const buffer of b.stateUpdates.keys()) {
      const dims = b.stateInputs.find((s) => s.name === buffer)?.dims ?? null;
      updated.push({ name: nextName(buffer), old: buffer, dims });
    }
    const lossIsFinite = b.node('Not', [b.node('Or', [b.node('IsNaN', [loss]), b.node('IsInf', [loss])])]);
    const sgdStep = (): Value[] => {
      const values: Value[] = [];
      for (const { weight, gradient, buffer } of steps) {
        let g = gradient;
        if (weightDecay !== 0) g = b.node('Add', [g, b.node('Mul', [weight, scalar(weightDecay)])]);
        if (buffer) {
          // buf = momentum * buf + g; a zero buffer makes PyTorch's first step (buf = g) the same formula.
          const next = b.node('Add', [b.node('Mul', [buffer, scalar(momentum)]), g]);
          values.push(next);
          g = nesterov ? b.node('Add', [g, b.node('Mul', [next, scalar(momentum)])]) : next;
        }
        values.push(b.node('Sub', [weight, b.node('Mul', [g, lr])]));
      }
      return [...values, ...b.stateUpdates.values()];
    };
    const next = b.conditional(
      lossIsFinite,
      sgdStep,
      updated.map((u) => u.old),
    );
    updated.forEach((update, i) => {
      b.output(next[i], update.name, update.dims);
    });
  });
  const name = model.registryName ?? model.constructor.name;
  return {
    model: {
      irVersion: irVersionForOpset(TRAINING_OPSET),
      opsetVersion: TRAINING_OPSET,
      producerName: 'rla-net',
      producerVersion: '0.1.0',
      docString: `${name}: one SGD training step (forward, cross-entropy, backward, update)`,
      graph: b.graph(`${name}_train_step`),
      metadata: { 'rla.model': name, 'rla.graph': 'train-step' },
    },
    parameters,
    frozen: all.filter((p) => !gradients.has(p.name)),
    buffers: b.stateInputs.filter((s) => s.kind === 'buffer'),
    updated: new Set(b.stateUpdates.keys()),
    randomInputs: b.randomInputs,
  };
}
