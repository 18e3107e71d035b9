/**
 * Builds a model from the bytes of a weights file (browser-safe): rla-net safetensors carry their model name and
 * options; PyTorch checkpoints need a name or an inferred architecture.
 */
import type { ClassifierModel } from '../models/classifier.js';
import { createModel, type ModelOptions } from '../models/index.js';
import { CheckpointError } from '../weights/errors.js';
import { type InferredArchitecture, inferArchitecture } from './infer-architecture.js';
import { type LoadReport, loadStateDictSource } from './load-checkpoint.js';
import { checkFileOptions, parseFileOptions } from './option-bounds.js';
import { RLA_FORMAT } from './save-checkpoint.js';
import { readStateDict, type StateDictSource } from './state-dict-source.js';

export interface LoadModelOptions {
  /** Registry name; when absent it comes from the file's metadata or is inferred from its keys. */
  model?: string;
  /** Options for `createModel` (merged over those found in the file). */
  options?: ModelOptions;
  strict?: boolean;
  useEma?: boolean;
  /** Cap on bytes inflated from a compressed `.pth` (default 64 MiB + 8x the file size). */
  maxInflatedBytes?: number;
  /** Name used in error messages (default `weights`). */
  fileName?: string;
}

export interface LoadedModel {
  model: ClassifierModel;
  report: LoadReport;
  /** How the architecture was chosen: 'argument', 'metadata' or the inference's reason. */
  chosenBy: string;
  inferred: InferredArchitecture | null;
}

/** The architecture to build: the argument's, the file's metadata (bounded), or inferred from key shapes (bounded). */
function architectureOf(source: StateDictSource, options: LoadModelOptions, fileName: string) {
  if (options.model) return { name: options.model, fileOptions: {}, chosenBy: 'argument', inferred: null };
  if (source.info.format === RLA_FORMAT && typeof source.info.model === 'string') {
    const fileOptions = parseFileOptions(String(source.info.options ?? '{}'), fileName);
    return { name: source.info.model, fileOptions, chosenBy: 'file metadata', inferred: null };
  }
  const shapes = new Map([...source.tensors].map(([key, t]) => [key, t.shape] as const));
  let inferred: InferredArchitecture;
  try {
    inferred = inferArchitecture(shapes);
  } catch (error) {
    throw new CheckpointError(`${fileName}: ${(error as Error).message}`);
  }
  checkFileOptions(inferred.options, `options inferred from key shapes (${inferred.name})`, fileName);
  return {
    name: inferred.name,
    fileOptions: inferred.options,
    chosenBy: `inferred: ${inferred.reason}`,
    inferred,
  };
}

/** Builds the model a weights file's bytes describe and loads the weights (strict by default). */
export function loadModelBytes(bytes: Uint8Array, options: LoadModelOptions = {}): LoadedModel {
  const fileName = options.fileName ?? 'weights';
  const source = readStateDict(bytes, {
    fileName,
    useEma: options.useEma,
    maxInflatedBytes: options.maxInflatedBytes,
  });
  const { name, fileOptions, chosenBy, inferred } = architectureOf(source, options, fileName);
  let model: ClassifierModel;
  try {
    model = createModel(name, { ...fileOptions, ...options.options });
  } catch (error) {
    // The name or options came from the file: say which file.
    if (chosenBy === 'argument') throw error;
    throw new CheckpointError(
      `${fileName}: cannot build the model it describes: ${(error as Error).message}`,
    );
  }
  try {
    const report = loadStateDictSource(model, source, { strict: options.strict ?? true, fileName });
    return { model, report, chosenBy, inferred };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
