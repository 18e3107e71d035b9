/**
 * Loads weights (official PyTorch checkpoints or rla-net safetensors, PyTorch layout) into a model, nanoGPT-style:
 * list the keys on both sides, check every key and shape, then copy with the layout transposes each parameter
 * declares (OIHW -> HWIO, depthwise, Conv1d, Linear).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Module, StateEntry } from '../nn/module.js';
import { fromTorchLayout, torchShapeOf } from '../nn/tensor-layout.js';
import { formatShape, truncateText } from '../util/bounded-text.js';
import { closestMatches } from '../util/edit-distance.js';
import { CheckpointError } from '../weights/errors.js';
import type { SourceTensor } from './source-tensor.js';
import { type ReadStateDictOptions, readStateDict, type StateDictSource } from './state-dict-source.js';

export interface Mismatch {
  key: string;
  /** PyTorch-layout shape the model expects. */
  expected: number[];
  actual: number[];
}

export interface LoadReport {
  /** Model keys the file lacks (not loaded; they keep their current values). */
  missing: string[];
  /** File keys the model lacks (ignored). */
  unexpected: string[];
  /** Keys present on both sides with different shapes (not loaded). */
  mismatched: Mismatch[];
  /** Where the weights came from: format and trainer-dict unwrapping. */
  source: Pick<StateDictSource, 'format' | 'unwrappedFrom' | 'info'>;
}

export interface LoadCheckpointOptions extends ReadStateDictOptions {
  /** Default true: any missing, unexpected or mismatched key is an error that lists them all. */
  strict?: boolean;
}

/** `num_batches_tracked` is bookkeeping: absent in old checkpoints, absent in models without BatchNorm. */
function isBookkeeping(key: string): boolean {
  return key.endsWith('.num_batches_tracked');
}

/** Compares a model's state entries with a file's tensors. */
export function compareStateDict(entries: StateEntry[], tensors: Map<string, SourceTensor>) {
  const modelKeys = new Set(entries.map((e) => e.key));
  const missing = entries.filter((e) => !tensors.has(e.key) && !isBookkeeping(e.key)).map((e) => e.key);
  const unexpected = [...tensors.keys()].filter((key) => !modelKeys.has(key) && !isBookkeeping(key));
  const mismatched: Mismatch[] = [];
  for (const entry of entries) {
    const source = tensors.get(entry.key);
    if (!source) continue;
    const expected = torchShapeOf(entry.tensor.shape, entry.layout);
    if (expected.length !== source.shape.length || expected.some((d, i) => d !== source.shape[i])) {
      mismatched.push({ key: entry.key, expected, actual: [...source.shape] });
    }
  }
  return { missing, unexpected, mismatched };
}

/**
 * The model key closest to `key` (edit distance on dotted paths), to point at typos and renamed layers; null when
 * there is none or `key` is too long to compare (see `closestMatches`).
 */
export function nearestKey(key: string, candidates: Iterable<string>): string | null {
  return closestMatches(key, candidates, 1)[0] ?? null;
}

/** Problems listed in a strict-load error; the rest are counted. */
const SHOWN_PROBLEMS = 60;
/**
 * Unexpected keys that get a nearest-key suggestion. Each costs an edit distance against every model key, and a
 * file can hold any number of keys (300,000 took minutes): the first ones are enough to recognise a pattern.
 */
const SUGGESTED_KEYS = 20;
/** The strict-load error text: at most {@link SHOWN_PROBLEMS} lines, keys cut to a bounded length. */
function describeProblems(
  report: Omit<LoadReport, 'source'>,
  modelKeys: string[],
  fileName?: string,
): string {
  const lines: string[] = [];
  const room = () => lines.length < SHOWN_PROBLEMS;
  for (const m of report.mismatched) {
    if (!room()) break;
    lines.push(
      `shape mismatch ${truncateText(m.key)}: model expects ${formatShape(m.expected)}, file has ${formatShape(m.actual)}`,
    );
  }
  for (const key of report.missing) {
    if (!room()) break;
    lines.push(`missing in file: ${truncateText(key)}`);
  }
  for (const [index, key] of report.unexpected.entries()) {
    if (!room()) break;
    const near = index < SUGGESTED_KEYS ? nearestKey(key, modelKeys) : null;
    lines.push(`unexpected in file: ${truncateText(key)}${near ? ` (nearest model key: ${near})` : ''}`);
  }
  const total = report.missing.length + report.unexpected.length + report.mismatched.length;
  if (total > lines.length) lines.push(`... and ${total - lines.length} more`);
  return `${fileName ? `${fileName}: ` : ''}weights do not fit the model (${total} problem(s); this may be a checkpoint of another architecture):\n  ${lines.join('\n  ')}`;
}

/** Values of keys that share one model parameter must agree (the model cannot hold untied copies). */
function checkTiedKeys(entries: StateEntry[], tensors: Map<string, SourceTensor>, fileName?: string): void {
  const byOwner = new Map<unknown, string[]>();
  for (const entry of entries) byOwner.set(entry.owner, [...(byOwner.get(entry.owner) ?? []), entry.key]);
  for (const keys of byOwner.values()) {
    const present = keys.filter((key) => tensors.has(key));
    if (present.length < 2) continue;
    const first = tensors.get(present[0])!;
    for (const key of present.slice(1)) {
      const other = tensors.get(key)!;
      if (other.storageIdentity !== null && other.storageIdentity === first.storageIdentity) continue;
      const a = first.toFloat32();
      const b = other.toFloat32();
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) {
        throw new CheckpointError(
          `${fileName ? `${fileName}: ` : ''}${present[0]} and ${key} are one shared parameter in the model but differ in the file`,
        );
      }
    }
  }
}

/** Loads a parsed state dict into `model`; returns what did not fit. */
export function loadStateDictSource(
  model: Module,
  source: StateDictSource,
  options: LoadCheckpointOptions = {},
): LoadReport {
  const strict = options.strict ?? true;
  const entries = model.stateEntries();
  const comparison = compareStateDict(entries, source.tensors);
  const hasProblems =
    comparison.missing.length + comparison.unexpected.length + comparison.mismatched.length > 0;
  if (strict && hasProblems) {
    throw new CheckpointError(
      describeProblems(
        comparison,
        entries.map((e) => e.key),
        options.fileName,
      ),
    );
  }
  checkTiedKeys(entries, source.tensors, options.fileName);
  const skip = new Set(comparison.mismatched.map((m) => m.key));
  const native = new Map<string, tf.Tensor>();
  try {
    for (const entry of entries) {
      const tensor = source.tensors.get(entry.key);
      if (!tensor || skip.has(entry.key)) continue;
      native.set(
        entry.key,
        tf.tidy(() => {
          const torchTensor = tf.tensor(tensor.toFloat32(), [...tensor.shape], 'float32');
          const converted = fromTorchLayout(torchTensor, entry.layout);
          return entry.tensor.dtype === 'float32' ? converted : tf.cast(converted, entry.tensor.dtype);
        }),
      );
    }
    model.loadStateDict(native, { strict: false });
  } finally {
    tf.dispose([...native.values()]);
  }
  return {
    ...comparison,
    source: { format: source.format, unwrappedFrom: source.unwrappedFrom, info: source.info },
  };
}

/**
 * Loads weights from file bytes into `model`: official `.pth` / `.pth.tar` (zip or legacy, plain state dicts or
 * trainer checkpoints with `module.` prefixes) or `.safetensors`. Strict by default.
 */
export function loadCheckpoint(
  model: Module,
  bytes: Uint8Array,
  options: LoadCheckpointOptions = {},
): LoadReport {
  return loadStateDictSource(model, readStateDict(bytes, options), options);
}
