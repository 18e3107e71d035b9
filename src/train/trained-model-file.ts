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
