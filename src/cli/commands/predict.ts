/**
 * `rla predict <image...>`: the top classes (softmax probabilities) of any registry model with a weights file,
 * for JPEG/PNG images. Images are prepared like the model's training data when the file says how (files from
 * `rla train`), else with the ImageNet evaluation pipeline (resize 256, center crop 224, ImageNet mean/std).
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { loadModelFile } from '../../checkpoint/model-file.js';
import { decodeImage } from '../../data/decode.js';
import { type RawImage, toGrayscale } from '../../data/image.js';
import { imagenetPreprocessing, type Preprocessing } from '../../data/preprocessing.js';
import { prepareSample } from '../../data/sample-pipeline.js';
import { centerCrop, resizeShorter } from '../../data/transforms.js';
import { initBackend } from '../../engine/backend.js';
import { trainedModelInfo } from '../../train/trained-model-file.js';
import { BACKEND_OPTION, backendOption, integerOption, parseCommandArgs, UsageError } from '../args.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelOptionsFrom } from '../model-args.js';
import {
  checkLoadedWeights,
  WEIGHTS_OPTIONS,
  WEIGHTS_OPTIONS_HELP,
  weightsChoicesFrom,
} from '../weights-args.js';

/** `rla predict --help`. */
export const PREDICT_USAGE = `usage: rla predict <image...> --weights FILE [options]
  --weights FILE       .safetensors (from rla train/convert) or an official .pth / .pth.tar
  --top N              classes to show per image (default 5)
  --json               print the predictions as JSON
${MODEL_OPTIONS_HELP}
${WEIGHTS_OPTIONS_HELP}
  --backend B          auto | wasm | cpu | tensorflow`;

/** Brings any photo to the geometry a dataset's samples have (e.g. 28x28 grayscale for Fashion-MNIST). */
function toNativeGeometry(image: RawImage, native: Preprocessing['native']): RawImage {
  if (!native) return image;
  let result = native.channels === 1 ? toGrayscale(image) : image;
  if (result.height !== native.height || result.width !== native.width) {
    result = centerCrop(
      resizeShorter(result, Math.min(native.height, native.width)),
      Math.min(native.height, native.width),
    );
  }
  return result;
}

/** Runs `rla predict`; returns the exit code. */
export async function predictCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      weights: { type: 'string' },
      top: { type: 'string' },
      json: { type: 'boolean' },
      ...MODEL_OPTIONS,
      ...WEIGHTS_OPTIONS,
      ...BACKEND_OPTION,
    },
    PREDICT_USAGE,
  );
  if (values.help) {
    out(PREDICT_USAGE);
    return 0;
  }
  if (values.weights === undefined || positionals.length === 0) {
    throw new UsageError(`need --weights and at least one image\n\n${PREDICT_USAGE}`);
  }
  await initBackend({ backend: backendOption(values.backend) });
  const { model: name, options } = modelOptionsFrom(values);
  const choices = weightsChoicesFrom(values);
  const { model, report } = await loadModelFile(String(values.weights), {
    model: name,
    options,
    maxInflatedBytes: choices.maxInflatedBytes,
  });
  try {
    checkLoadedWeights(model, String(values.weights), choices);
    const stored = trainedModelInfo(report.source.info, String(values.weights));
    const preprocessing = stored.preprocessing ?? imagenetPreprocessing();
    const classNames = stored.classNames ?? Array.from({ length: model.numClasses }, (_, i) => `class ${i}`);
    const top = Math.min(integerOption('top', values.top) ?? 5, model.numClasses);
    const spec = {
      ops: preprocessing.eval,
      mean: preprocessing.mean,
      std: preprocessing.std,
      size: preprocessing.size,
    };
    model.checkInputSize(spec.size, spec.size);
    model.eval();
    const results: Array<{
      image: string;
      top: Array<{ class: string; index: number; probability: number }>;
    }> = [];
    for (const path of positionals) {
      const bytes = await readFile(path).catch((error: Error) => {
        throw new UsageError(`cannot read image ${path}: ${error.message}`);
      });
      const image = toNativeGeometry(
        decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path),
        preprocessing.native,
      );
      const x = new Float32Array(spec.size * spec.size * 3);
      prepareSample(image, 0, spec, x, 0, path);
      const probabilities = tf.tidy(() =>
        tf.softmax(model.forward(tf.tensor4d(x, [1, spec.size, spec.size, 3]))).dataSync(),
      );
      const ranked = Array.from(probabilities, (probability, index) => ({ index, probability }))
        .sort((a, b) => b.probability - a.probability)
        .slice(0, top)
        .map(({ index, probability }) => ({
          class: classNames[index] ?? `class ${index}`,
          index,
          probability,
        }));
      results.push({ image: path, top: ranked });
    }
    if (values.json) {
      out(JSON.stringify(results, null, 2));
    } else {
      for (const result of results) {
        out(`${result.image}:`);
        for (const r of result.top)
          out(`  ${(100 * r.probability).toFixed(2).padStart(6)}%  ${r.class} (${r.index})`);
      }
    }
  } finally {
    model.dispose();
  }
  return 0;
}
