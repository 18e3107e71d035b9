/** Weights by URL with a checksummed cache (Node only). */
export { rlaHome, weightsCacheDir } from './cache-dir.js';
export {
  type CachedFile,
  cachePathOf,
  DEFAULT_MAX_DOWNLOAD_BYTES,
  DownloadError,
  type DownloadOptions,
  downloadToCache,
} from './download.js';
export { type FromPretrainedOptions, fromPretrained, resolveWeights } from './from-pretrained.js';
