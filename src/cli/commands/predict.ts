/**
 * `rla predict <image...>`: the top classes (softmax probabilities) of any registry model with a weights file,
 * for JPEG/PNG images, through `loadClassifier` / `classify`: images are prepared like the model's training data
 * when the file says how (files from `rla train`), else with the model's pretrained config (ImageNet models: resize
 * 256, center crop 224, ImageNet mean/std).
 */
import { readFile } from 'node:fs/promises';
import type { Classifier } from '../../classify/classifier.js';
import { loadClassifier } from '../../classify/load-node.js';
import { decodeImage } from '../../data/decode.js';
import { initBackend } from '../../engine/backend.js';
import type { ClassifierModel } from '../../models/classifier.js';
import { isOnnxFile } from '../../onnx/session.js';
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

/** `rla predict --help`. */
export const PREDICT_USAGE = `usage: rla predict <image...> --weights FILE [options]
  --weights FILE       .safetensors (from rla train/convert), an official .pth / .pth.tar, or an .onnx model
                       (from rla export-onnx / quantize, run on ONNX Runtime)
  --top N              classes to show per image (default 5)
  --json               print the predictions as JSON
  --engine E           tfjs (default) | ort: ONNX Runtime (the model exported in memory; .onnx files always)
${ORT_OPTIONS_HELP}
${MODEL_OPTIONS_HELP}
${WEIGHTS_OPTIONS_HELP}
  --backend B          auto | wasm | cpu | tensorflow`;

/** Runs `rla predict`; returns the exit code. */
export async function predictCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      weights: { type: 'string' },
      top: { type: 'string' },
      json: { type: 'boolean' },
      engine: { type: 'string' },
      ...ORT_OPTIONS,
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
  const weights = await weightsFileFrom(values);
  const classifier = await openClassifier(weights, values);
  try {
    const top = Math.min(integerOption('top', values.top) ?? 5, classifier.numClasses);
    const results: Array<{
      image: string;
      top: Array<{ class: string; index: number; probability: number }>;
    }> = [];
    for (const path of positionals) {
      const bytes = await readFile(path).catch((error: Error) => {
        throw new UsageError(`cannot read image ${path}: ${error.message}`);
      });
      const ranked = await classifier.classify(
        decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path),
        {
          topk: top,
        },
      );
      results.push({
        image: path,
        top: ranked.map(({ label, index, score }) => ({ class: label, index, probability: score })),
      });
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
    await classifier.dispose();
  }
  return 0;
}

/** The classifier of `weights` (an .onnx file runs on ONNX Runtime), with the weight-health checks of the CLI. */
async function openClassifier(weights: string, values: Record<string, unknown>): Promise<Classifier> {
  const session = ortSessionFrom(values);
  const engine = values.engine === undefined ? (isOnnxFile(weights) ? 'ort' : 'tfjs') : String(values.engine);
  if (engine !== 'tfjs' && engine !== 'ort') throw new UsageError(`--engine ${engine}: choose tfjs or ort`);
  if (isOnnxFile(weights)) {
    if (engine !== 'ort') throw new UsageError(`${weights} is an ONNX model: it runs with --engine ort`);
    return loadClassifier(weights, { session });
  }
  const { model: name, options } = modelOptionsFrom(values);
  const choices = weightsChoicesFrom(values);
  const classifier = await loadClassifier(weights, {
    model: name,
    options,
    maxInflatedBytes: choices.maxInflatedBytes,
    engine,
    session,
  });
  try {
    checkLoadedWeights(classifier.model as ClassifierModel, weights, choices);
  } catch (error) {
    await classifier.dispose();
    throw error;
  }
  return classifier;
}
