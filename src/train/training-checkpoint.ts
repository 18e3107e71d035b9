/**
 * The training checkpoint (`checkpoint.safetensors` in a run directory): everything needed to continue a run
 * bit for bit. Tensors: `model.<official key>` (native TF.js layout and dtype, copied exactly) and
 * `optimizer.momentum_buffer.<official key>` for every parameter that has a momentum buffer. `__metadata__`:
 * `format = rla-net-training`, `state` = JSON {@link TrainingState} (config, epoch, position in the epoch,
 * running sums of the partial epoch, best metric, generator states). Random state: the data pipeline's randomness
 * is a pure function of (seed, epoch, sample), so (config.seed, epoch, batch) fixes it; generators held by modules
 * (Dropout masks) are saved by module name. Written atomically (temp + rename):
 * the previous checkpoint stays valid until a complete new one replaces it, and a model with NaN/Inf weights is
 * never written.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkFileOptions } from '../checkpoint/option-bounds.js';
import {
  describeWeightProblems,
  modelWeightProblems,
  weightProblems,
  weightsAreHealthy,
} from '../checkpoint/weight-health.js';
import type { ClassifierModel } from '../models/classifier.js';
import { Rng } from '../nn/init.js';
import type { Parameter } from '../nn/module.js';
import { describeValue, truncateText } from '../util/bounded-text.js';
import { readFileBytes, writeFileAtomic } from '../weights/files-node.js';
import { readSafetensors, type SafetensorsInput, writeSafetensors } from '../weights/safetensors.js';
import { configProblems, type TrainConfig } from './config.js';
import type { SGD } from './sgd.js';

/** `__metadata__.format` of training checkpoints (model files say `rla-net`). */
export const TRAINING_FORMAT = 'rla-net-training';
/** Version of the {@link TrainingState} layout; bumped on incompatible changes. */
export const TRAINING_FORMAT_VERSION = 1;

/** Running sums of the epoch in progress (so a resumed epoch reports the same averages). */
export interface EpochSums {
  lossSum: number;
  correct1: number;
  correct5: number;
  count: number;
  /** Training seconds spent in this epoch so far. */
  seconds: number;
}

/** Everything besides tensors that a resumed run needs (stored as JSON in the checkpoint). */
export interface TrainingState {
  version: number;
  config: TrainConfig;
  /** Completed epochs (the epoch in progress is `epoch`, 0-based). */
  epoch: number;
  /** Completed batches of epoch `epoch` (0 at an epoch boundary). */
  batch: number;
  sums: EpochSums;
  /** Best validation top-1 so far and its epoch (1-based), or null before the first validation. */
  best: { top1: number; epoch: number } | null;
  /** Class names of the dataset the run trains on. */
  classNames: string[];
  /** States of the generators owned by modules (e.g. Dropout), by `module name.property`. */
  rngs?: Record<string, number[]>;
  /** Multiplier on the schedule's learning rate set by callbacks (reduce-on-plateau); absent: 1. */
  lrScale?: number;
  /** States of the run's named callbacks (early stopping, reduce-on-plateau, callbacks given to the trainer). */
  callbacks?: Record<string, unknown>;
  /** Set when a callback stopped the run (early stopping): a resumed run does not train on. */
  stopped?: { epoch: number; reason: string };
}

/** The sums at the start of an epoch. */
export const EMPTY_SUMS: EpochSums = { lossSum: 0, correct1: 0, correct5: 0, count: 0, seconds: 0 };

/** A checkpoint must not be written from a diverged model. */
export class NonFiniteWeightsError extends Error {
  override name = 'NonFiniteWeightsError';
}

/**
 * Generators owned by the model's modules (a Dropout draws its masks from one), by `module.property` name.
 * Found by type so every layer that keeps an `Rng` is covered without a registry of such layers.
 */
export function moduleRngs(model: ClassifierModel): Map<string, Rng> {
  const found = new Map<string, Rng>();
  for (const [name, module] of model.namedModules()) {
    for (const [property, value] of Object.entries(module)) {
      if (value instanceof Rng) found.set(name ? `${name}.${property}` : property, value);
    }
  }
  return found;
}

/** Official key of every unique parameter, in `optimizer.parameters` order. */
function parameterKeys(model: ClassifierModel, parameters: readonly Parameter[]): string[] {
  const keyOf = new Map<Parameter, string>();
  for (const [key, parameter] of model.namedParameters())
    if (!keyOf.has(parameter)) keyOf.set(parameter, key);
  return parameters.map((p) => {
    const key = keyOf.get(p);
    if (key === undefined) throw new Error('the optimizer holds a parameter that is not in the model');
    return key;
  });
}

function entry(tensor: tf.Tensor): SafetensorsInput {
  const data = tensor.dataSync();
  if (tensor.dtype === 'float32') return { dtype: 'F32', shape: tensor.shape, data: data as Float32Array };
  if (tensor.dtype === 'int32') return { dtype: 'I32', shape: tensor.shape, data: data as Int32Array };
  throw new Error(`cannot checkpoint a ${tensor.dtype} tensor`);
}

/** Keys of model tensors holding NaN or Inf. */
export function nonFiniteKeys(model: ClassifierModel): string[] {
  return modelWeightProblems(model).nonFinite;
}

/** Serialises model, optimizer and state; throws {@link NonFiniteWeightsError} if any weight is NaN/Inf. */
export function trainingCheckpointBytes(
  model: ClassifierModel,
  optimizer: SGD,
  state: TrainingState,
): Uint8Array {
  const bad = nonFiniteKeys(model);
  if (bad.length > 0) {
    throw new NonFiniteWeightsError(
      `refusing to checkpoint non-finite weights (${bad.slice(0, 3).join(', ')}${bad.length > 3 ? ', ...' : ''})`,
    );
  }
  const tensors: Array<[string, SafetensorsInput]> = [];
  const seen = new Set<unknown>();
  for (const { key, tensor, owner } of model.stateEntries()) {
    // Tied parameters are stored once, under their first key.
    if (seen.has(owner)) continue;
    seen.add(owner);
    tensors.push([`model.${key}`, entry(tensor)]);
  }
  const keys = parameterKeys(model, optimizer.parameters);
  optimizer.momentumBuffers().forEach((buffer, i) => {
    if (buffer) tensors.push([`optimizer.momentum_buffer.${keys[i]}`, entry(buffer)]);
  });
  const rngs = Object.fromEntries([...moduleRngs(model)].map(([name, rng]) => [name, rng.getState()]));
  return writeSafetensors(tensors, { format: TRAINING_FORMAT, state: JSON.stringify({ ...state, rngs }) });
}

/** Writes the checkpoint atomically (the previous file survives any failure or crash during the write). */
export async function saveTrainingCheckpoint(
  path: string,
  model: ClassifierModel,
  optimizer: SGD,
  state: TrainingState,
): Promise<void> {
  await writeFileAtomic(path, trainingCheckpointBytes(model, optimizer, state));
}

/** A parsed training checkpoint: its state and tensors (views into the file bytes). */
export interface TrainingCheckpoint {
  state: TrainingState;
  tensors: Map<string, { dtype: string; shape: readonly number[]; data: Uint8Array }>;
}

const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The first problem of a parsed {@link TrainingState}, or null. The state decides what a resumed run builds and
 * loops over, so it is checked like any file content before use (model options are bounded by the caller).
 */
function stateProblem(state: Record<string, unknown>): string | null {
  if (!isCount(state.epoch) || !isCount(state.batch)) return 'epoch and batch must be integers >= 0';
  const sums = state.sums;
  if (!isObject(sums) || !Object.keys(EMPTY_SUMS).every((k) => Number.isFinite(sums[k])))
    return `sums ${describeValue(sums)} must hold finite ${Object.keys(EMPTY_SUMS).join(', ')}`;
  const best = state.best;
  if (best !== null && !(isObject(best) && Number.isFinite(best.top1) && isCount(best.epoch)))
    return `best ${describeValue(best)} must be null or {top1, epoch}`;
  const names = state.classNames;
  if (
    !Array.isArray(names) ||
    names.length === 0 ||
    names.length > 100_000 ||
    !names.every((n) => typeof n === 'string')
  )
    return `classNames ${describeValue(names)} must be a list of 1 to 100000 strings`;
  const config = state.config;
  if (!isObject(config)) return `config ${describeValue(config)} is not an object`;
  if (
    typeof config.model !== 'string' ||
    typeof config.dataset !== 'string' ||
    !isObject(config.modelOptions)
  )
    return 'config needs a model name, model options and a dataset name';
  const schedule = config.schedule;
  if (!isObject(schedule) || (schedule.kind === 'multistep' && !Array.isArray(schedule.milestones)))
    return `config.schedule ${describeValue(schedule)} is not a schedule`;
  const configErrors = configProblems(config as unknown as TrainConfig);
  if (configErrors.length > 0) return `config: ${truncateText(configErrors.join('; '), 400)}`;
  if (state.rngs !== undefined && !(isObject(state.rngs) && Object.values(state.rngs).every(Array.isArray)))
    return `rngs ${describeValue(state.rngs)} must map names to states`;
  if (state.lrScale !== undefined && !(Number.isFinite(state.lrScale) && (state.lrScale as number) > 0))
    return `lrScale ${describeValue(state.lrScale)} must be a finite number > 0`;
  if (state.callbacks !== undefined && !isObject(state.callbacks))
    return `callbacks ${describeValue(state.callbacks)} must map callback names to states`;
  const stopped = state.stopped;
  if (
    stopped !== undefined &&
    !(isObject(stopped) && isCount(stopped.epoch) && typeof stopped.reason === 'string')
  )
    return `stopped ${describeValue(stopped)} must be {epoch, reason}`;
  return null;
}

/** Reads and validates a training checkpoint file. */
export async function readTrainingCheckpoint(path: string): Promise<TrainingCheckpoint> {
  const file = readSafetensors(await readFileBytes(path), path);
  if (file.metadata.format !== TRAINING_FORMAT || file.metadata.state === undefined) {
    throw new Error(
      `${path} is not an rla-net training checkpoint (format "${file.metadata.format ?? 'none'}")`,
    );
  }
  let state: TrainingState;
  try {
    state = JSON.parse(file.metadata.state) as TrainingState;
  } catch (error) {
    throw new Error(
      `${path}: __metadata__.state is not valid JSON (${truncateText((error as Error).message)})`,
    );
  }
  if (state === null || typeof state !== 'object' || Array.isArray(state))
    throw new Error(`${path}: __metadata__.state is not an object`);
  if (state.version !== TRAINING_FORMAT_VERSION) {
    throw new Error(
      `${path}: training checkpoint version ${describeValue(state.version)}, this rla-net reads ${TRAINING_FORMAT_VERSION}`,
    );
  }
  const problem = stateProblem(state as unknown as Record<string, unknown>);
  if (problem !== null) throw new Error(`${path}: __metadata__.state: ${problem}`);
  checkFileOptions(state.config.modelOptions, '__metadata__.state.config.modelOptions', path);
  // A run must not continue from unusable weights (the writer never saves them; another tool might have).
  const problems = weightProblems(
    [...file.tensors]
      .filter(([, t]) => t.dtype === 'F32')
      .map(([key, t]) => [key.replace(/^model\./, ''), new Float32Array(t.data.slice().buffer)] as const),
  );
  if (!weightsAreHealthy(problems)) {
    throw new NonFiniteWeightsError(
      `${path}: cannot resume from unusable weights: ${describeWeightProblems(problems)}`,
    );
  }
  return { state, tensors: file.tensors };
}

function toTensor(t: { dtype: string; shape: readonly number[]; data: Uint8Array }, key: string): tf.Tensor {
  // Copy into an aligned buffer: the view may start at any byte offset of the file.
  const bytes = t.data.slice();
  if (t.dtype === 'F32') return tf.tensor(new Float32Array(bytes.buffer), [...t.shape], 'float32');
  if (t.dtype === 'I32') return tf.tensor(new Int32Array(bytes.buffer), [...t.shape], 'int32');
  throw new Error(`checkpoint tensor ${key} has unsupported dtype ${t.dtype}`);
}

/** Loads a checkpoint's model tensors and momentum buffers into `model` and `optimizer` (exact copies). */
export function restoreTraining(
  model: ClassifierModel,
  optimizer: SGD,
  checkpoint: TrainingCheckpoint,
): void {
  const modelTensors = new Map<string, tf.Tensor>();
  const buffers: Array<tf.Tensor | null> = [];
  try {
    const seen = new Set<unknown>();
    for (const { key, owner } of model.stateEntries()) {
      const stored = checkpoint.tensors.get(`model.${key}`);
      if (stored) modelTensors.set(key, toTensor(stored, key));
      else if (!seen.has(owner)) throw new Error(`checkpoint lacks model tensor ${key}`);
      seen.add(owner);
    }
    // Tied parameters were stored once: give every alias the stored value.
    for (const { key, owner } of model.stateEntries()) {
      if (modelTensors.has(key)) continue;
      const first = model.stateEntries().find((e) => e.owner === owner && modelTensors.has(e.key));
      if (first) modelTensors.set(key, modelTensors.get(first.key)!);
    }
    model.loadStateDict(modelTensors);
    for (const key of parameterKeys(model, optimizer.parameters)) {
      const stored = checkpoint.tensors.get(`optimizer.momentum_buffer.${key}`);
      buffers.push(stored ? toTensor(stored, key) : null);
    }
    optimizer.loadMomentumBuffers(buffers);
    for (const [name, rng] of moduleRngs(model)) {
      const saved = checkpoint.state.rngs?.[name];
      if (!saved) throw new Error(`checkpoint lacks the state of generator ${name}`);
      rng.setState(saved);
    }
  } finally {
    tf.dispose([...new Set(modelTensors.values())]);
    tf.dispose(buffers.filter((b): b is tf.Tensor => b !== null));
  }
}
