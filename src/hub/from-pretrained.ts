/**
 * `fromPretrained(urlOrFile, { sha256 })`: a model with its weights from a URL (downloaded once into the cache,
 * see download.ts) or a local file, read by the safe readers behind `loadModelFile` (.pth through the pickle VM
 * that never runs code, or .safetensors).
 */
import { fileURLToPath } from 'node:url';
import { type LoadedModel, type LoadModelOptions, loadModelFile } from '../checkpoint/model-file.js';
import {
  DownloadError,
  type DownloadOptions,
  downloadToCache,
  normalizeSha256,
  sha256OfFile,
} from './download.js';

export type FromPretrainedOptions = LoadModelOptions & DownloadOptions;

/** Whether `source` is something to download rather than a path. */
export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/**
 * The local path of `source`: a URL's cached file (downloaded when missing), or the file itself, whose hash is
 * checked when `sha256` is given.
 */
export async function resolveWeights(source: string, options: DownloadOptions = {}): Promise<string> {
  if (isUrl(source)) return (await downloadToCache(source, options)).path;
  const path = source.startsWith('file:') ? fileURLToPath(source) : source;
  if (options.sha256 !== undefined) {
    const expected = normalizeSha256(options.sha256);
    const actual = await sha256OfFile(path).catch((error: Error) => {
      throw new DownloadError(`cannot read ${path}: ${error.message}`);
    });
    if (actual !== expected)
      throw new DownloadError(`sha256 mismatch for ${path}: expected ${expected}, got ${actual}`);
  }
  return path;
}

/** Builds the model a weights URL or file describes and loads its weights (see {@link loadModelFile}). */
export async function fromPretrained(
  source: string,
  options: FromPretrainedOptions = {},
): Promise<LoadedModel> {
  return loadModelFile(await resolveWeights(source, options), options);
}
