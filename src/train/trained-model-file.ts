/**
 * The trained-weights file of a run (`best.safetensors`): the rla-net safetensors model format (PyTorch layout,
 * official keys, model name and options; loadable by `rla eval/predict/convert` and the checkpoint loader) plus
 * what inference needs to prepare images like training did: the preprocessing and the class names.
 */
import { loadCheckpoint } from '../checkpoint/load-checkpoint.js';
import { identityOf, toSafetensorsBytes } from '../checkpoint/save-checkpoint.js';
import type { Preprocessing } from '../data/preprocessing.js';
import { parsePreprocessing } from '../data/preprocessing-check.js';
import type { ClassifierModel } from '../models/classifier.js';
import { describeValue, printableText, truncateText } from '../util/bounded-text.js';
import { CheckpointError } from '../weights/errors.js';
import { readFileBytes, writeFileAtomic } from '../weights/files-node.js';

/** Metadata keys added to the model file. */
export interface TrainedModelInfo {
  preprocessing: Preprocessing;
  classNames: string[];
  /** 1-based epoch the weights come from and their validation top-1. */
  epoch: number;
  valTop1: number | null;
  dataset: string;
}

/** Writes `model` with its training info, atomically. */
export async function saveTrainedModel(
  path: string,
  model: ClassifierModel,
  info: TrainedModelInfo,
): Promise<void> {
  const bytes = toSafetensorsBytes(model, identityOf(model), {
    preprocessing: JSON.stringify(info.preprocessing),
    classes: JSON.stringify(info.classNames),
    epoch: String(info.epoch),
    val_top1: info.valTop1 === null ? '' : String(info.valTop1),
    dataset: info.dataset,
  });
  await writeFileAtomic(path, bytes);
}

/** Loads a model file's weights into `model` (strict). */
export async function loadTrainedWeights(path: string, model: ClassifierModel): Promise<void> {
  loadCheckpoint(model, await readFileBytes(path), { fileName: path });
}

/** Class names a file may list (ImageNet-21k has 21,843). */
const MAX_CLASS_NAMES = 100_000;

/** Stored class names, each made printable (escape sequences replaced) and cut to 120 characters. */
function parseClassNames(text: string, fail: (problem: string) => Error): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw fail(`not valid JSON (${truncateText((error as Error).message)})`);
  }
  if (!Array.isArray(value) || value.length > MAX_CLASS_NAMES || !value.every((v) => typeof v === 'string'))
    throw fail(`${describeValue(value)} must be a list of at most ${MAX_CLASS_NAMES} strings`);
  return value.map((name) => printableText(name));
}

/**
 * The preprocessing and class names stored by {@link saveTrainedModel} (null for weight files without them).
 * A stored value that is not valid is an error naming `fileName` and the key, never a silent fallback to
 * another pipeline: images prepared differently from training give quietly wrong answers.
 */
export function trainedModelInfo(
  metadata: Record<string, string | number>,
  fileName: string,
): {
  preprocessing: Preprocessing | null;
  classNames: string[] | null;
} {
  const stored = <T>(key: string, parse: (text: string, fail: (problem: string) => Error) => T): T | null => {
    const value = metadata[key];
    if (value === undefined) return null;
    const fail = (problem: string) => new CheckpointError(`${fileName}: __metadata__.${key}: ${problem}`);
    if (typeof value !== 'string') throw fail('is not a string');
    return parse(value, fail);
  };
  return {
    preprocessing: stored('preprocessing', parsePreprocessing),
    classNames: stored('classes', parseClassNames),
  };
}
