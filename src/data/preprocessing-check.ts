/**
 * Validation of a {@link Preprocessing} read from a file (`best.safetensors` stores the one it was trained with).
 * The file decides how much work each image costs and what the normalisation divides by, so every field is checked
 * before use: known ops only (an unknown one used to surface as a raw TypeError), sizes within
 * {@link MAX_INPUT_SIDE} (a stored size of 4096 cost minutes per batch), finite means and positive stds (a std of
 * 0 turned every input into NaN and the accuracy into "NaN%").
 */
import { describeValue, truncateText } from '../util/bounded-text.js';
import { MAX_INPUT_SIDE, type Preprocessing } from './preprocessing.js';
import type { TransformOp } from './transforms.js';

/** The parameters each op takes, as checks that return a problem or null. */
type FieldCheck = (value: unknown) => string | null;

const side: FieldCheck = (v) =>
  Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_INPUT_SIDE
    ? null
    : `must be an integer in 1..${MAX_INPUT_SIDE}`;
const padding: FieldCheck = (v) =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_INPUT_SIDE
    ? null
    : `must be an integer in 0..${MAX_INPUT_SIDE}`;
const probability: FieldCheck = (v) =>
  typeof v === 'number' && v >= 0 && v <= 1 ? null : 'must be a number in [0, 1]';
/** A `[low, high]` range with `0 < low <= high <= max`. */
const range =
  (max: number): FieldCheck =>
  (v) =>
    Array.isArray(v) &&
    v.length === 2 &&
    v.every((x) => typeof x === 'number' && x > 0 && x <= max) &&
    v[0] <= v[1]
      ? null
      : `must be [low, high] with 0 < low <= high <= ${max}`;

const OP_FIELDS: Readonly<Record<TransformOp['op'], Readonly<Record<string, FieldCheck>>>> = {
  pad: { padding },
  randomCrop: { size: side, padding },
  randomHorizontalFlip: { p: probability },
  randomResizedCrop: { size: side, scale: range(1), ratio: range(100) },
  resize: { size: side },
  centerCrop: { size: side },
  grayscale: {},
};

function opProblem(op: unknown): string | null {
  if (op === null || typeof op !== 'object' || Array.isArray(op))
    return `${describeValue(op)} is not an op object`;
  const name = (op as { op?: unknown }).op;
  if (typeof name !== 'string' || !Object.hasOwn(OP_FIELDS, name)) {
    return `unknown op ${describeValue(name)} (known: ${Object.keys(OP_FIELDS).join(', ')})`;
  }
  for (const [field, check] of Object.entries(OP_FIELDS[name as TransformOp['op']])) {
    const value = (op as Record<string, unknown>)[field];
    const problem = check(value);
    if (problem !== null) return `${name}.${field} ${describeValue(value)} ${problem}`;
  }
  return null;
}

function channelStats(value: unknown, positive: boolean): string | null {
  const ok =
    Array.isArray(value) &&
    value.length === 3 &&
    value.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
  return ok ? null : `${describeValue(value)} must be 3 finite numbers${positive ? ' > 0' : ''}`;
}

/** The first problem of an untrusted preprocessing value, or null when it is a valid {@link Preprocessing}. */
export function preprocessingProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return `${describeValue(value)} is not an object`;
  const p = value as Record<string, unknown>;
  for (const list of ['train', 'eval'] as const) {
    const ops = p[list];
    if (!Array.isArray(ops)) return `${list} ${describeValue(ops)} is not a list of ops`;
    if (ops.length > 16) return `${list} has ${ops.length} ops (at most 16)`;
    for (const [index, op] of ops.entries()) {
      const problem = opProblem(op);
      if (problem !== null) return `${list}[${index}]: ${problem}`;
    }
  }
  const mean = channelStats(p.mean, false);
  if (mean !== null) return `mean ${mean}`;
  const std = channelStats(p.std, true);
  if (std !== null) return `std ${std}`;
  const size = side(p.size);
  if (size !== null) return `size ${describeValue(p.size)} ${size}`;
  if (p.native !== null) {
    const native = p.native as Record<string, unknown> | undefined;
    if (
      native === undefined ||
      typeof native !== 'object' ||
      side(native.height) !== null ||
      side(native.width) !== null ||
      (native.channels !== 1 && native.channels !== 3)
    ) {
      return `native ${describeValue(p.native)} must be null or {height, width in 1..${MAX_INPUT_SIDE}, channels 1 or 3}`;
    }
  }
  return null;
}

/** Parses stored preprocessing JSON; errors (via `fail`) say what is wrong, bounded. */
export function parsePreprocessing(text: string, fail: (problem: string) => Error): Preprocessing {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw fail(`not valid JSON (${truncateText((error as Error).message)})`);
  }
  const problem = preprocessingProblem(value);
  if (problem !== null) throw fail(problem);
  return value as Preprocessing;
}
