/**
 * Node-only file helpers for weight files. Everything else under `src/weights/` works on
 * `Uint8Array`s so it also runs in browsers; only this module touches the filesystem.
 */

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Reads a whole file as bytes; errors say which path and why (missing, a directory, no access). */
export async function readFileBytes(filePath: string): Promise<Uint8Array> {
  try {
    const buf = await fs.readFile(filePath);
    // A Buffer is a Uint8Array, but may view a shared pool; hand out an exact, plain view.
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : (e as Error).message;
    const err = new Error(`cannot read weights file ${filePath}: ${why}`);
    (err as { cause?: unknown }).cause = e;
    throw err;
  }
}

/** The temporary name {@link writeFileAtomic} writes `filePath` under before renaming it (unique per call). */
export function temporaryName(filePath: string): string {
  return `.${path.basename(filePath)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** Names {@link temporaryName} produces: `.<target>.<pid>.<12 hex digits>.tmp`; the pid is captured. */
const TEMPORARY_NAME = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** Whether process `pid` exists on this machine (EPERM: it exists but belongs to another user). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files that killed {@link writeFileAtomic} calls left in `dir`: only names of its own
 * pattern, and only those whose writing process no longer exists (a live writer's file is in use). Returns the
 * names removed. Anything else in `dir` is never touched.
 */
export async function removeStaleTemporaryFiles(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.readdir(dir)) {
    const match = TEMPORARY_NAME.exec(name);
    if (!match || processExists(Number(match[1]))) continue;
    await fs.rm(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Writes `bytes` to `filePath` atomically: the data goes to a temporary file in the same
 * directory (same filesystem, so the rename is atomic), is fsynced, then renamed over the target.
 * A crash or error at any point leaves the previous file intact; the temporary file is removed
 * on failure.
 */
export async function writeFileAtomic(filePath: string, bytes: Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(filePath));
  const tmp = path.join(dir, temporaryName(filePath));
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(tmp, 'wx');
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
      written += bytesWritten;
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, filePath);
  } catch (e) {
    await handle?.close().catch(() => {});
    await fs.rm(tmp, { force: true }).catch(() => {});
    const err = new Error(`cannot write ${filePath}: ${(e as Error).message}`);
    (err as { cause?: unknown }).cause = e;
    throw err;
  }
  // Persist the rename itself; not all platforms allow fsync on a directory, so best effort.
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // ignored: the data is already safely in place
  }
}
