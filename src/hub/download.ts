/**
 * Weights by URL, downloaded once into a cache (`RLA_HOME`, see cache-dir.ts) and checked against their SHA-256.
 * Layout: `<cache>/<sha256>/<file name>` when the hash is given (content-addressed: any URL of the same bytes
 * hits), else `<cache>/url-<sha256 of the URL, 16 hex>/<file name>`.
 * - atomic: the body streams into a unique temporary file beside the target, is fsynced, hashed, and only a
 *   complete, verified file is renamed into place, so a truncated or wrong download never lands in the cache;
 * - concurrent: a lock file per cache entry makes a second process (or call) wait and then reuse the file;
 * - bounded: a Content-Length above `maxBytes` is refused before reading, and a body that grows past it is cut;
 * - offline: a cached file is used without touching the network (`offline` / `RLA_OFFLINE=1` forbid fetching).
 * Loading the file is left to the safe readers of src/weights/ (no pickle code ever runs).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { removeStaleTemporaryFiles, temporaryName } from '../weights/files-node.js';
import { weightsCacheDir } from './cache-dir.js';
import { withFileLock } from './file-lock.js';

/** Largest download accepted unless `maxBytes` says otherwise (the biggest RLA-Net weights are ~0.25 GB). */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 2 ** 30;

/** A download that failed: HTTP status, network, size limit, truncation or hash mismatch. */
export class DownloadError extends Error {
  override name = 'DownloadError';
}

export interface DownloadOptions {
  /** Expected SHA-256 of the file (64 hex digits); strongly advised: it is what makes the cache trustworthy. */
  sha256?: string;
  /** Cache directory (default: {@link weightsCacheDir}, i.e. `$RLA_HOME/weights`). */
  cacheDir?: string;
  /** Refuse bodies larger than this (default {@link DEFAULT_MAX_DOWNLOAD_BYTES}). */
  maxBytes?: number;
  /** Never fetch: only a cached file will do (default: the `RLA_OFFLINE` environment variable is set). */
  offline?: boolean;
  /** Messages for the user (waiting for another download, bytes received); default: none. */
  log?: (message: string) => void;
  /** The fetch to use (default: Node's global fetch). */
  fetch?: typeof fetch;
}

/** Where a download landed. */
export interface CachedFile {
  path: string;
  /** SHA-256 of the file's bytes (lowercase hex). */
  sha256: string;
  /** False when the file came from the cache. */
  downloaded: boolean;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The lowercase form of a SHA-256 given by a user; an error unless it is 64 hex digits. */
export function normalizeSha256(sha256: string): string {
  const hex = sha256.trim().toLowerCase();
  if (!SHA256.test(hex))
    throw new DownloadError(`sha256 must be 64 hex digits, got "${sha256.slice(0, 80)}"`);
  return hex;
}

/** SHA-256 of a file, streamed (weights can be large). */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The name a URL's file gets in the cache: the last path segment, restricted to safe characters. */
export function cacheFileName(url: URL): string {
  let name: string;
  try {
    name = decodeURIComponent(basename(url.pathname));
  } catch {
    name = basename(url.pathname);
  }
  const safe = name
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, '')
    .slice(-120);
  return safe.length > 0 ? safe : 'download';
}

/** The http(s) URL in `text`; an error naming it otherwise. */
function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DownloadError(`not a URL: "${text.slice(0, 200)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DownloadError(
      `${url.protocol} URLs cannot be downloaded (use http: or https:): ${text.slice(0, 200)}`,
    );
  }
  return url;
}

/** The cache entry directory and file path of a URL. */
export function cachePathOf(
  urlText: string,
  options: Pick<DownloadOptions, 'sha256' | 'cacheDir'> = {},
): string {
  const url = parseUrl(urlText);
  const key = options.sha256
    ? normalizeSha256(options.sha256)
    : `url-${createHash('sha256').update(url.href).digest('hex').slice(0, 16)}`;
  return join(options.cacheDir ?? weightsCacheDir(), key, cacheFileName(url));
}

/** Returns the cached file of `url`, downloading and verifying it first when it is not in the cache. */
export async function downloadToCache(url: string, options: DownloadOptions = {}): Promise<CachedFile> {
  const expected = options.sha256 === undefined ? undefined : normalizeSha256(options.sha256);
  const target = cachePathOf(url, { sha256: expected, cacheDir: options.cacheDir });
  const cached = await reuseCached(target, expected);
  if (cached) return cached;
  const offline = options.offline ?? Boolean(process.env.RLA_OFFLINE);
  if (offline) {
    throw new DownloadError(
      `${url} is not in the cache (${target}) and downloads are off (offline / RLA_OFFLINE)`,
    );
  }
  const entryDir = join(target, '..');
  await fs.mkdir(entryDir, { recursive: true });
  const lock = join(entryDir, `.${basename(target)}.lock`);
  return withFileLock(
    lock,
    async () => {
      // Another process may have finished it while this one waited for the lock.
      const done = await reuseCached(target, expected);
      if (done) return done;
      // What a killed download left (its lock was stale): temporary files of processes that no longer exist.
      await removeStaleTemporaryFiles(entryDir);
      const sha256 = await fetchInto(target, url, { ...options, sha256: expected });
      return { path: target, sha256, downloaded: true };
    },
    {
      onWait: (pid) => options.log?.(`waiting for process ${pid}, which is downloading ${basename(target)}`),
    },
  );
}

/** The cached file at `target` when present (and matching `expected`); a damaged cache entry is an error. */
async function reuseCached(target: string, expected: string | undefined): Promise<CachedFile | null> {
  if (!existsSync(target)) return null;
  const sha256 = await sha256OfFile(target);
  if (expected !== undefined && sha256 !== expected) {
    throw new DownloadError(
      `cached file ${target} has sha256 ${sha256}, expected ${expected}: the cache was changed by hand; delete the file to download it again`,
    );
  }
  return { path: target, sha256, downloaded: false };
}

/** Downloads `url` into a temporary file beside `target`, verifies it and renames it into place; returns its hash. */
async function fetchInto(target: string, url: string, options: DownloadOptions): Promise<string> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, { redirect: 'follow' });
  } catch (error) {
    const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new DownloadError(`cannot download ${url}: ${cause} (nothing cached at ${target})`);
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new DownloadError(
      `cannot download ${url}: HTTP ${response.status} ${response.statusText}`.trimEnd(),
    );
  }
  // With a content encoding (gzip), Content-Length counts the encoded bytes, not the file's.
  const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const header = response.headers.get('content-length');
  const length = header !== null && !encoded && /^\d+$/.test(header) ? Number(header) : null;
  if (length !== null && length > maxBytes) {
    await response.body.cancel();
    throw new DownloadError(
      `${url} is ${length} bytes, more than the limit of ${maxBytes} (maxBytes / --max-mb)`,
    );
  }
  const temporary = join(target, '..', temporaryName(target));
  const handle = await fs.open(temporary, 'wx');
  const hash = createHash('sha256');
  let received = 0;
  try {
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received += value.length;
        if (received > maxBytes) {
          await reader.cancel();
          throw new DownloadError(
            `${url} sent more than the limit of ${maxBytes} bytes (maxBytes / --max-mb)`,
          );
        }
        hash.update(value);
        for (let written = 0; written < value.length; ) {
          written += (await handle.write(value, written, value.length - written)).bytesWritten;
        }
      }
    } catch (error) {
      if (error instanceof DownloadError) throw error;
      const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
      throw new DownloadError(
        `download of ${url} broke off after ${received}${length === null ? '' : ` of ${length}`} bytes: ${cause}`,
      );
    }
    if (length !== null && received !== length) {
      throw new DownloadError(`download of ${url} is truncated: received ${received} of ${length} bytes`);
    }
    const sha256 = hash.digest('hex');
    if (options.sha256 !== undefined && sha256 !== options.sha256) {
      throw new DownloadError(
        `sha256 mismatch for ${url}: expected ${options.sha256}, got ${sha256} (${received} bytes)`,
      );
    }
    await handle.sync();
    await handle.close();
    await fs.rename(temporary, target);
    options.log?.(`downloaded ${received} bytes from ${url}, sha256 ${sha256}`);
    return sha256;
  } catch (error) {
    await handle.close().catch(() => {});
    await fs.rm(temporary, { force: true });
    throw error;
  }
}
