/**
 * The trained-weights file of a run (`best.safetensors`): the rla-net safetensors model format (PyTorch layout,
 * official keys, model name and options; loadable by `rla eval/predict/convert` and the checkpoint loader) plus
 * what inference needs to prepare images like training did: the preprocessing and the class names.
 */
import { loadCheckpoint } from '../checkpoint/load-checkpoint.js';
import { identityOf, toSafetensorsBytes } from '../checkpoint/save-checkpoint.js';
import type { Preprocessing } from '../data/preprocessing.js';
import type { ClassifierModel } from '../models/classifier.js';
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

/** The preprocessing and class names stored by {@link saveTrainedModel} (null for other weight files). */
export function trainedModelInfo(metadata: Record<string, string | number>): {
  preprocessing: Preprocessing | null;
  classNames: string[] | null;
} {
  const parse = <T>(value: string | number | undefined): T | null => {
    if (typeof value !== 'string' || value.length === 0) return null;
    try {
      return JSON.parse(value) as T;
    } catch {
      return null;
    }
  };
  return {
    preprocessing: parse<Preprocessing>(metadata.preprocessing),
    classNames: parse<string[]>(metadata.classes),
  };
}
