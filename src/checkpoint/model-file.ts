/**
 * Node file helpers: build a model from a weights file (see {@link loadModelBytes}) and save models atomically.
 */
import { basename, extname } from 'node:path';
import type { ClassifierModel } from '../models/classifier.js';
import { readFileBytes, writeFileAtomic } from '../weights/files-node.js';
import { type LoadedModel, type LoadModelOptions, loadModelBytes } from './model-bytes.js';
import { identityOf, toPthBytes, toSafetensorsBytes } from './save-checkpoint.js';

export type { LoadedModel, LoadModelOptions };

/** Reads a weights file, builds the matching model and loads the weights (strict by default). */
export async function loadModelFile(path: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  return loadModelBytes(await readFileBytes(path), { ...options, fileName: basename(path) });
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
