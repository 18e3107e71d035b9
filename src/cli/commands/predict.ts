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
import { evaluationPipeline, prepareSample } from '../../data/sample-pipeline.js';
import { centerCrop, resizeShorter } from '../../data/transforms.js';
import { initBackend } from '../../engine/backend.js';
import { isOnnxFile, openExportedModel } from '../../onnx/session.js';
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
  --weights FILE       .safetensors (from rla train/convert), an official .pth / .pth.tar, or an .onnx model
                       (from rla export-onnx / quantize, run on ONNX Runtime)
  --top N              classes to show per image (default 5)
  --json               print the predictions as JSON
${MODEL_OPTIONS_HELP}
${WEIGHTS_OPTIONS_HELP}
  --backend B          auto | wasm | cpu | tensorflow`;

/** Brings any photo to the geometry a dataset's samples have (e.g. 28x28 grayscale for Fashion-MNIST). */
export function toNativeGeometry(image: RawImage, native: Preprocessing['native']): RawImage {
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
  const weights = String(values.weights);
  const classifier = isOnnxFile(weights)
    ? await openOnnxClassifier(weights)
    : await openModelClassifier(weights, values);
  try {
    const stored = trainedModelInfo(classifier.info, weights);
    const preprocessing = stored.preprocessing ?? imagenetPreprocessing();
    const { numClasses } = classifier;
    const classNames = stored.classNames ?? Array.from({ length: numClasses }, (_, i) => `class ${i}`);
    const top = Math.min(integerOption('top', values.top) ?? 5, numClasses);
    const spec = evaluationPipeline(preprocessing);
    classifier.checkInputSize(spec.size);
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
      const probabilities = softmax(await classifier.logits(x, spec.size));
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
    await classifier.release();
  }
  return 0;
}

/** What predict needs of a model, whichever engine runs it. */
interface Classifier {
  /** Metadata: the trained model's preprocessing, classes, dataset. */
  info: Record<string, string | number>;
  numClasses: number;
  checkInputSize(size: number): void;
  /** Logits of one NHWC image of side `size`. */
  logits(x: Float32Array, size: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/** A weights file's model on TF.js. */
async function openModelClassifier(weights: string, values: Record<string, unknown>): Promise<Classifier> {
  const { model: name, options } = modelOptionsFrom(values);
  const choices = weightsChoicesFrom(values);
  const { model, report } = await loadModelFile(weights, {
    model: name,
    options,
    maxInflatedBytes: choices.maxInflatedBytes,
  });
  try {
    checkLoadedWeights(model, weights, choices);
  } catch (error) {
    model.dispose();
    throw error;
  }
  model.eval();
  return {
    info: report.source.info,
    numClasses: model.numClasses,
    checkInputSize: (size) => model.checkInputSize(size, size),
    logits: async (x, size) =>
      tf.tidy(() => model.forward(tf.tensor4d(x, [1, size, size, 3])).dataSync() as Float32Array),
    release: async () => model.dispose(),
  };
}

/** An .onnx model (rla export-onnx / quantize) on ONNX Runtime; its metadata says how to prepare images. */
async function openOnnxClassifier(path: string): Promise<Classifier> {
  const { session, metadata, numClasses } = await openExportedModel(path);
  return {
    info: metadata,
    numClasses,
    checkInputSize: () => {},
    logits: (x, size) => session.runNhwc(x, [1, size, size, 3]),
    release: () => session.release(),
  };
}

/** Probabilities of logits (max subtracted first, so large logits do not overflow). */
function softmax(logits: Float32Array): Float32Array {
  const max = logits.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  const exps = logits.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}
