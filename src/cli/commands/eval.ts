/**
 * `rla eval`: top-1 / top-5 accuracy and mean cross-entropy of a weights file on a dataset split. Images are
 * prepared as in training: with the preprocessing stored in files written by `rla train`, else the dataset's.
 */
import { loadModelFile } from '../../checkpoint/model-file.js';
import { firstSamples } from '../../data/dataset.js';
import { DataLoader } from '../../data/loader.js';
import { DATASET_NAMES, openDataset } from '../../data/sources.js';
import { initBackend } from '../../engine/backend.js';
import { evaluate } from '../../train/evaluate.js';
import { trainedModelInfo } from '../../train/trained-model-file.js';
import { percent } from '../../util/format.js';
import { BACKEND_OPTION, backendOption, integerOption, parseCommandArgs, UsageError } from '../args.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelOptionsFrom } from '../model-args.js';
import {
  checkLoadedWeights,
  WEIGHTS_OPTIONS,
  WEIGHTS_OPTIONS_HELP,
  weightsChoicesFrom,
} from '../weights-args.js';

/** `rla eval --help`. */
export const EVAL_USAGE = `usage: rla eval --weights FILE [--dataset NAME] [--data DIR] [options]
  --weights FILE       .safetensors (from rla train/convert) or an official .pth / .pth.tar
  --dataset NAME       ${DATASET_NAMES.join(' | ')} (default: the one the weights were trained on)
  --data DIR           dataset directory
  --split S            test (default) | train
  --limit N            first N images only
  --batch-size N       default 100
  --image-size N       imagefolder input side for weights that do not store their preprocessing (default
                       224); an error where it would have no effect
  --json               print the result as JSON
${MODEL_OPTIONS_HELP}
${WEIGHTS_OPTIONS_HELP}
  --backend B          auto | wasm | cpu | tensorflow`;

/** Runs `rla eval`; returns the exit code. */
export async function evalCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      weights: { type: 'string' },
      dataset: { type: 'string' },
      data: { type: 'string' },
      split: { type: 'string' },
      limit: { type: 'string' },
      'batch-size': { type: 'string' },
      'image-size': { type: 'string' },
      json: { type: 'boolean' },
      ...MODEL_OPTIONS,
      ...WEIGHTS_OPTIONS,
      ...BACKEND_OPTION,
    },
    EVAL_USAGE,
  );
  if (values.help) {
    out(EVAL_USAGE);
    return 0;
  }
  if (values.weights === undefined) throw new UsageError(`--weights is required\n\n${EVAL_USAGE}`);
  const split = values.split === undefined ? 'test' : String(values.split);
  if (split !== 'test' && split !== 'train') throw new UsageError(`--split ${split}: choose test or train`);
  const backend = await initBackend({ backend: backendOption(values.backend) });
  const { model: name, options } = modelOptionsFrom(values);
  const choices = weightsChoicesFrom(values);
  const loaded = await loadModelFile(String(values.weights), {
    model: name,
    options,
    maxInflatedBytes: choices.maxInflatedBytes,
  });
  const { model } = loaded;
  let loader: DataLoader | null = null;
  try {
    checkLoadedWeights(model, String(values.weights), choices);
    const info = loaded.report.source.info;
    const stored = trainedModelInfo(info, String(values.weights));
    const datasetName =
      values.dataset === undefined
        ? typeof info.dataset === 'string'
          ? info.dataset
          : undefined
        : String(values.dataset);
    if (!datasetName)
      throw new UsageError('--dataset is required (the weights file does not name its dataset)');
    if (
      values['image-size'] !== undefined &&
      (stored.preprocessing !== null || datasetName !== 'imagefolder')
    ) {
      throw new UsageError(
        stored.preprocessing !== null
          ? `--image-size has no effect: ${values.weights} stores the preprocessing it was trained with (input ${stored.preprocessing.size}x${stored.preprocessing.size})`
          : `--image-size only applies to --dataset imagefolder; ${datasetName} images have a fixed size`,
      );
    }
    const dataset = await openDataset(datasetName, {
      data: values.data === undefined ? null : String(values.data),
      imageSize: integerOption('image-size', values['image-size']),
    });
    if (dataset.classNames.length > model.numClasses) {
      throw new UsageError(
        `${datasetName} has ${dataset.classNames.length} classes but the model outputs ${model.numClasses}`,
      );
    }
    const preprocessing = stored.preprocessing ?? dataset.preprocessing;
    const images = firstSamples(
      split === 'test' ? dataset.test : dataset.train,
      integerOption('limit', values.limit),
    );
    model.checkInputSize(preprocessing.size, preprocessing.size);
    loader = new DataLoader(images, {
      batchSize: integerOption('batch-size', values['batch-size']) ?? 100,
      shuffle: false,
      pipeline: {
        ops: preprocessing.eval,
        mean: preprocessing.mean,
        std: preprocessing.std,
        size: preprocessing.size,
      },
      seed: 0,
    });
    const result = await evaluate(model, loader);
    if (values.json) {
      out(
        JSON.stringify(
          { model: model.registryName, dataset: datasetName, split, backend, ...result },
          null,
          2,
        ),
      );
    } else {
      out(`${model.registryName} on ${datasetName} ${split} (${result.count} images, ${backend}):`);
      out(`  top-1 ${percent(result.top1)}  top-5 ${percent(result.top5)}  loss ${result.loss.toFixed(4)}`);
    }
  } finally {
    await loader?.close();
    model.dispose();
  }
  return 0;
}
