/**
 * Node file helpers: build a model from a weights file (rla-net safetensors carry their model name and options;
 * PyTorch checkpoints need a name or an inferred architecture) and save models atomically.
 */
import { basename, extname } from 'node:path';
import type { ClassifierModel } from '../models/classifier.js';
import { createModel, type ModelOptions } from '../models/index.js';
import { CheckpointError } from '../weights/errors.js';
import { readFileBytes, writeFileAtomic } from '../weights/files-node.js';
import { type InferredArchitecture, inferArchitecture } from './infer-architecture.js';
import { type LoadReport, loadStateDictSource } from './load-checkpoint.js';
import { checkFileOptions, parseFileOptions } from './option-bounds.js';
import { identityOf, RLA_FORMAT, toPthBytes, toSafetensorsBytes } from './save-checkpoint.js';
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

/** Reads a weights file, builds the matching model and loads the weights (strict by default). */
export async function loadModelFile(path: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const fileName = basename(path);
  const source = readStateDict(await readFileBytes(path), {
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

/** Saves `model` to `path` atomically: `.safetensors` (with model identity) or `.pth`/`.pt` (torch.load-able). */
export async function saveModelFile(model: ClassifierModel, path: string): Promise<void> {
  const extension = extname(path).toLowerCase();
  if (extension === '.safetensors') {
    await writeFileAtomic(path, toSafetensorsBytes(model, identityOf(model)));
  } else if (extension === '.pth' || extension === '.pt' || path.endsWith('.pth.tar')) {
    const archiveName = basename(path).replace(/\.(pth\.tar|pth|pt)$/i, '') || 'archive';
    await writeFileAtomic(path, toPthBytes(model, archiveName.replace(/[^A-Za-z0-9._-]/g, '_')));
  } else {
    throw new Error(`${path}: unknown weights extension "${extension}" (use .safetensors or .pth)`);
  }
}
