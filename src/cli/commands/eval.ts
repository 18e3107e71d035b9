/**
 * `rla eval`: top-1 / top-5 accuracy and mean cross-entropy of a weights file on a dataset split. Images are
 * prepared as in training: with the preprocessing stored in files written by `rla train`, else the dataset's.
 */

import { loadModelFile } from '../../checkpoint/model-file.js';
import { firstSamples } from '../../data/dataset.js';
import { type DataLoader, evaluationLoader } from '../../data/loader.js';
import { DATASET_NAMES, openDataset } from '../../data/sources.js';
import { initBackend } from '../../engine/backend.js';
import { isOnnxFile, openExportedModel } from '../../onnx/session.js';
import { type EvalResult, evaluate } from '../../train/evaluate.js';
import { evaluateOnOrt, evaluateSession } from '../../train/ort-step.js';
import { trainedModelInfo } from '../../train/trained-model-info.js';
import { percent } from '../../util/format.js';
import { BACKEND_OPTION, backendOption, integerOption, parseCommandArgs, UsageError } from '../args.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelOptionsFrom } from '../model-args.js';
import { ORT_OPTIONS, ORT_OPTIONS_HELP, ortSessionFrom } from '../ort-args.js';
import {
  checkLoadedWeights,
  WEIGHTS_OPTIONS,
  WEIGHTS_OPTIONS_HELP,
  weightsChoicesFrom,
  weightsFileFrom,
} from '../weights-args.js';

/** `rla eval --help`. */
export const EVAL_USAGE = `usage: rla eval --weights FILE [--dataset NAME] [--data DIR] [options]
  --weights FILE       .safetensors (from rla train/convert), an official .pth / .pth.tar, or an .onnx model
                       (from rla export-onnx / quantize: run on ONNX Runtime)
  --engine E           tfjs (default) | ort: ONNX Runtime (the model exported on the fly, BN folded)
${ORT_OPTIONS_HELP}
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
      engine: { type: 'string' },
      ...ORT_OPTIONS,
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
  const weights = await weightsFileFrom(values);
  const isOnnx = isOnnxFile(weights);
  const engine = values.engine === undefined ? (isOnnx ? 'ort' : 'tfjs') : String(values.engine);
  if (engine !== 'tfjs' && engine !== 'ort') throw new UsageError(`--engine ${engine}: choose tfjs or ort`);
  if (isOnnx && engine !== 'ort')
    throw new UsageError(`${weights} is an ONNX model: it runs with --engine ort`);
  const ortSession = ortSessionFrom(values);
  const backend = await initBackend({ backend: backendOption(values.backend) });
  const { model: name, options } = modelOptionsFrom(values);
  const choices = weightsChoicesFrom(values);
  let evaluated: Evaluated;
  if (isOnnx) {
    const { session, metadata, numClasses } = await openExportedModel(weights, ortSession);
    try {
      evaluated = await evaluateSplit(values, split, metadata, weights, numClasses, null, (loader) =>
        evaluateSession(session, numClasses, loader),
      );
    } finally {
      await session.release();
    }
    evaluated.modelName = `${metadata['rla.model'] ?? weights}${metadata['rla.precision'] === 'int8' ? ' (int8)' : ''}`;
  } else {
    const loaded = await loadModelFile(weights, {
      model: name,
      options,
      maxInflatedBytes: choices.maxInflatedBytes,
    });
    const { model } = loaded;
    try {
      checkLoadedWeights(model, weights, choices);
      evaluated = await evaluateSplit(
        values,
        split,
        loaded.report.source.info,
        weights,
        model.numClasses,
        (size) => model.checkInputSize(size, size),
        (loader) =>
          engine === 'ort' ? evaluateOnOrt(model, loader, undefined, ortSession) : evaluate(model, loader),
      );
      evaluated.modelName = model.registryName ?? weights;
    } finally {
      model.dispose();
    }
  }
  const { result, datasetName, modelName } = evaluated;
  const engineName = engine === 'ort' ? 'onnxruntime' : backend;
  if (values.json) {
    out(
      JSON.stringify(
        { model: modelName, dataset: datasetName, split, backend: engineName, ...result },
        null,
        2,
      ),
    );
  } else {
    out(`${modelName} on ${datasetName} ${split} (${result.count} images, ${engineName}):`);
    out(`  top-1 ${percent(result.top1)}  top-5 ${percent(result.top5)}  loss ${result.loss.toFixed(4)}`);
  }
  return 0;
}

interface Evaluated {
  result: EvalResult;
  datasetName: string;
  modelName: string;
}

/**
 * Opens the split the weights are evaluated on (their dataset unless --dataset says otherwise), prepares its
 * images with the stored preprocessing (else the dataset's), and scores them with `score`.
 */
async function evaluateSplit(
  values: Record<string, unknown>,
  split: 'test' | 'train',
  info: Record<string, string | number>,
  weights: string,
  numClasses: number,
  checkInputSize: ((size: number) => void) | null,
  score: (loader: DataLoader) => Promise<EvalResult>,
): Promise<Evaluated> {
  const stored = trainedModelInfo(info, weights);
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
        ? `--image-size has no effect: ${weights} stores the preprocessing it was trained with (input ${stored.preprocessing.size}x${stored.preprocessing.size})`
        : `--image-size only applies to --dataset imagefolder; ${datasetName} images have a fixed size`,
    );
  }
  const dataset = await openDataset(datasetName, {
    data: values.data === undefined ? null : String(values.data),
    imageSize: integerOption('image-size', values['image-size'] as string | undefined),
  });
  if (dataset.classNames.length > numClasses) {
    throw new UsageError(
      `${datasetName} has ${dataset.classNames.length} classes but the model outputs ${numClasses}`,
    );
  }
  const preprocessing = stored.preprocessing ?? dataset.preprocessing;
  const images = firstSamples(
    split === 'test' ? dataset.test : dataset.train,
    integerOption('limit', values.limit as string | undefined),
  );
  checkInputSize?.(preprocessing.size);
  const loader = evaluationLoader(
    images,
    preprocessing,
    integerOption('batch-size', values['batch-size'] as string | undefined) ?? 100,
  );
  try {
    return { result: await score(loader), datasetName, modelName: String(info.model ?? '') };
  } finally {
    await loader.close();
  }
}
