/**
 * `loadClassifier` of the Node entry (`rla-net/node`): the browser one, plus weights and `.onnx` files by path,
 * image files by path (decoded with jpeg-js / pngjs), and the ONNX Runtime engine (`engine: 'ort'`: the model is
 * exported in memory and run by onnxruntime-node; `.onnx` files always run there).
 */
import { basename } from 'node:path';
import { decodeImage } from '../data/decode.js';
import type { ClassifierModel } from '../models/classifier.js';
import {
  createInferenceSession,
  type InferenceSessionOptions,
  isOnnxFile,
  type OnnxClassifier,
  openExportedModel,
} from '../onnx/session.js';
import { readFileBytes } from '../weights/files-node.js';
import {
  Classifier,
  type ClassifierParts,
  type LoadClassifierOptions,
  type LogitsRunner,
  modelClassifierParts,
  tfjsRunner,
} from './classifier.js';

export interface NodeClassifierOptions extends LoadClassifierOptions {
  /** ONNX Runtime session options (engine `ort` and `.onnx` files): threads, execution providers, log level. */
  session?: InferenceSessionOptions;
}

/** Weight-file extensions read by path (anything else that is not a registry name is read as a file too). */
const WEIGHTS_FILE = /\.(pth|pt|pth\.tar|tar|safetensors|bin)$/i;

function ortRunner(session: OnnxClassifier): LogitsRunner {
  return {
    engine: 'ort',
    logits: (x, shape) => session.runNhwc(x, shape),
    release: () => session.release(),
  };
}

/** Registry name, weights file path, `.onnx` file path, weights bytes, or a model. */
export type ClassifierSource = string | Uint8Array | ArrayBuffer | ClassifierModel;

/**
 * A classifier from a registry name (fresh weights), a weights or `.onnx` file path, weights bytes, or a model,
 * on TF.js (default) or ONNX Runtime (`engine: 'ort'`). Image inputs may also be file paths.
 */
export async function loadClassifier(
  source: ClassifierSource,
  options: NodeClassifierOptions = {},
): Promise<Classifier> {
  const readers = {
    decode: options.decode ?? decodeImage,
    readFile: options.readFile ?? readFileBytes,
  };
  const classifierOptions = { ...options, ...readers };
  if (typeof source === 'string' && isOnnxFile(source)) {
    if (options.engine === 'tfjs')
      throw new Error(`${source}: an .onnx file runs on ONNX Runtime (engine "ort")`);
    const { session, metadata, numClasses } = await openExportedModel(source, options.session);
    const parts: ClassifierParts = {
      model: null,
      runner: ortRunner(session),
      numClasses,
      modelName: metadata['rla.model'] ?? null,
      metadata,
      source: basename(source),
      ownsModel: true,
    };
    return construct(parts, classifierOptions);
  }
  const isFile = typeof source === 'string' && WEIGHTS_FILE.test(source);
  const {
    model,
    metadata,
    ownsModel,
    source: name,
  } = isFile
    ? modelClassifierParts(await readFileBytes(source), { ...options, fileName: basename(source) })
    : modelClassifierParts(source, options);
  model.eval();
  const parts: Omit<ClassifierParts, 'runner'> = {
    model,
    numClasses: model.numClasses,
    modelName: model.registryName ?? null,
    metadata,
    source: name,
    ownsModel,
  };
  try {
    const runner =
      (options.engine ?? 'tfjs') === 'ort'
        ? ortRunner(await createInferenceSession(model, options.session))
        : tfjsRunner(model);
    return await construct({ ...parts, runner }, classifierOptions);
  } catch (error) {
    if (ownsModel) model.dispose();
    throw error;
  }
}

async function construct(parts: ClassifierParts, options: LoadClassifierOptions): Promise<Classifier> {
  try {
    return new Classifier(parts, options);
  } catch (error) {
    await parts.runner.release();
    throw error;
  }
}
