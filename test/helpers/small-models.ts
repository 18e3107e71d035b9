/** Small configurations of registry models for training tests (gradients of every kind of layer, quickly). */
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createModel, getModelEntry, listModels, type ModelOptions } from '../../src/models/index.js';

/** The smallest configuration of a model that still has every kind of layer it has at full size. */
export function smallTrainingOptions(name: string): ModelOptions {
  const accepted = getModelEntry(name).options;
  const options: ModelOptions = { numClasses: 10, seed: 1 };
  if (accepted.includes('layers')) options.layers = [1, 1, 1, 1];
  if (accepted.includes('widthPerGroup') && !name.includes('resnext')) options.widthPerGroup = 8;
  if (accepted.includes('widthMult')) options.widthMult = 0.25;
  // The official zero-init of each block's last BN makes whole branches' gradients vanish; keep them alive.
  if (accepted.includes('zeroInitLastBn')) options.zeroInitLastBn = false;
  return Object.fromEntries(
    Object.entries(options).filter(([key]) => accepted.includes(key as keyof ModelOptions)),
  );
}

/** The smallest square input (of 32, 64, 96, 128, 224) the model accepts. */
export function smallestInput(model: ClassifierModel): number {
  for (const size of [32, 64, 96, 128, 224]) {
    try {
      model.checkInputSize(size, size);
      return size;
    } catch {
      // not accepted: try the next size
    }
  }
  throw new Error('no accepted input size');
}

/**
 * Every registered model built with `smallTrainingOptions`, once per distinct architecture (state_dict keys and
 * shapes: with layers [1, 1, 1, 1], rla_resnet101 is rla_resnet50). The caller disposes each model it receives.
 */
export function* distinctSmallModels(): Generator<[string, ClassifierModel]> {
  const seen = new Set<string>();
  for (const name of listModels()) {
    const model = createModel(name, smallTrainingOptions(name));
    const signature = model
      .stateEntries()
      .map((e) => `${e.key}:${e.tensor.shape}`)
      .join('|');
    if (seen.has(signature)) {
      model.dispose();
      continue;
    }
    seen.add(signature);
    yield [name, model];
  }
}
