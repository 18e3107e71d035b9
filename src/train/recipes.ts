/**
 * Named recipes: the paper's training hyper-parameters (see docs/training.md and the paper's §4) plus `demo`, the
 * short run behind `npm start`. A recipe is a partial config; explicit options override every value.
 */
import type { TrainConfig } from './config.js';

/** A named set of hyper-parameters with a one-line description of its source. */
export interface Recipe {
  description: string;
  config: Partial<TrainConfig>;
}

/** The recipes `rla train --recipe` accepts. */
export const RECIPES: Record<string, Recipe> = {
  cifar: {
    description:
      'paper §4.1: 45k/5k split, pad-4 crop + flip, Nesterov SGD 0.9, wd 1e-4, batch 128, 300 epochs, lr 0.1 /10 at 150 and 225',
    config: {
      dataset: 'cifar10',
      epochs: 300,
      batchSize: 128,
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 1e-4,
      nesterov: true,
      schedule: { kind: 'multistep', milestones: [150, 225], gamma: 0.1 },
      valSize: 5000,
    },
  },
  imagenet: {
    description:
      'official train.py: RandomResizedCrop 224 + flip, SGD 0.9 (not Nesterov), wd 1e-4, batch 256, 120 epochs, lr 0.1 /10 every 30',
    config: {
      dataset: 'imagefolder',
      epochs: 120,
      batchSize: 256,
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 1e-4,
      nesterov: false,
      schedule: { kind: 'step', stepSize: 30, gamma: 0.1 },
      valSize: 0,
    },
  },
  mobilenet: {
    description: 'official train_light.py: SGD 0.9, wd 4e-5, batch 96, 400 epochs, lr 0.045 x0.98 per epoch',
    config: {
      dataset: 'imagefolder',
      epochs: 400,
      batchSize: 96,
      lr: 0.045,
      momentum: 0.9,
      weightDecay: 4e-5,
      nesterov: false,
      schedule: { kind: 'exponential', gamma: 0.98 },
      valSize: 0,
    },
  },
  demo: {
    description:
      'npm start: a small RLA-ResNet on the embedded Fashion-MNIST subset, a couple of minutes on 2 cores (not from the paper)',
    config: {
      model: 'rla_resnet50',
      modelOptions: { layers: [1, 1, 1, 1], widthPerGroup: 4, rlaChannel: 16 },
      dataset: 'fashion-mnist-subset',
      epochs: 2,
      batchSize: 32,
      lr: 0.01,
      momentum: 0.9,
      weightDecay: 1e-4,
      nesterov: true,
      schedule: { kind: 'cosine', warmupEpochs: 0.25, warmupStartFactor: 0.1, minLr: 0 },
      // Random crops slow the first epochs of this 32x32 ResNet badly (measured: loss still 2.5 after 60 steps
      // with crops, 1.5 without); two epochs are too short to benefit from augmentation.
      augment: false,
      valSize: 500,
      trainLimit: null,
      testLimit: null,
      evalBatchSize: 100,
    },
  },
};

/** Names of {@link RECIPES}. */
export const RECIPE_NAMES = Object.keys(RECIPES);

/**
 * The config of `recipe` over the defaults, with `overrides` on top. Unknown recipes are an error. A recipe's
 * model options belong to its model: when `overrides` names another model without options, that model starts
 * from no options (the demo's `layers`/`widthPerGroup` would be refused by a MobileNet).
 */
export function resolveConfig(
  defaults: TrainConfig,
  recipe: string | undefined,
  overrides: Partial<TrainConfig>,
): TrainConfig {
  let base: Partial<TrainConfig> = {};
  if (recipe !== undefined) {
    const found = RECIPES[recipe];
    if (!found) throw new Error(`unknown recipe "${recipe}": choose one of ${RECIPE_NAMES.join(', ')}`);
    base = found.config;
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const recipeModel = base.model ?? defaults.model;
  if (defined.model !== undefined && defined.model !== recipeModel && defined.modelOptions === undefined) {
    defined.modelOptions = {};
  }
  return structuredClone({ ...defaults, ...base, ...defined }) as TrainConfig;
}
