/** Node file access for dataset readers: whole-file reads with gzip detection and errors that name the file. */
import { promises as fs } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DatasetError } from './dataset.js';

/** True when `bytes` start with the gzip magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Reads a dataset file; gzip-compressed content (detected by its magic, not its name) is inflated. */
export async function readDataFile(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    const buffer = await fs.readFile(path);
    bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    throw new DatasetError(`cannot read dataset file ${path}: ${why}`);
  }
  if (!isGzip(bytes)) return bytes;
  try {
    const inflated = gunzipSync(bytes);
    return new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
  } catch (error) {
    throw new DatasetError(`${path}: corrupt gzip data (${(error as Error).message})`);
  }
}

/** The first of `candidates` that exists, or null. */
export async function firstExisting(candidates: readonly string[]): Promise<string | null> {
  for (const candidate of candidates) {
    try {
      if ((await fs.stat(candidate)).isFile()) return candidate;
    } catch {
      // try the next one
    }
  }
  return null;
}

/** Reads a text file of one name per line (class names); null when the file does not exist. */
export async function readNameList(path: string): Promise<string[] | null> {
  try {
    return (await fs.readFile(path, 'utf8'))
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line.length > 0);
  } catch {
    return null;
  }
}
