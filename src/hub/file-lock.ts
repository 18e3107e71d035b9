/**
 * A lock file for work that several processes (or several calls in one process) may start at once, such as
 * downloading the same weights into the cache: `open(path, 'wx')` creates it atomically with the owner's pid;
 * others wait until it disappears. A lock whose owner no longer exists (a killed download) is removed.
 */
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processExists } from '../weights/files-node.js';

export interface FileLockOptions {
  /** Give up waiting after this long (default 30 minutes: a large download on a slow line). */
  timeoutMs?: number;
  /** How often a waiter looks at the lock (default 50 ms). */
  pollMs?: number;
  /** Called once when the lock is held by another live process (to tell the user why nothing happens). */
  onWait?: (ownerPid: number) => void;
}

/** Creates `lockPath` holding this process's pid; false when it exists already. */
async function tryCreate(lockPath: string): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(lockPath, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`cannot create lock file ${lockPath}: ${(error as Error).message}`);
  }
  try {
    await handle.writeFile(String(process.pid));
  } finally {
    await handle.close();
  }
  return true;
}

/** The pid written in a lock file; null when it is gone, or not written yet (its owner is between open and write). */
async function ownerOf(lockPath: string): Promise<number | null> {
  try {
    const text = (await fs.readFile(lockPath, 'utf8')).trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/** Runs `task` while holding the lock file `lockPath`, waiting for other holders first. */
export async function withFileLock<T>(
  lockPath: string,
  task: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const pollMs = options.pollMs ?? 50;
  const started = Date.now();
  let told = false;
  while (!(await tryCreate(lockPath))) {
    const owner = await ownerOf(lockPath);
    if (owner !== null && !processExists(owner)) {
      // Its owner was killed mid-task; what it left half done is its temporary file, never the result.
      await fs.rm(lockPath, { force: true });
      continue;
    }
    if (owner !== null && !told) {
      options.onWait?.(owner);
      told = true;
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `waited ${Math.round(timeoutMs / 1000)} s for the lock ${lockPath} (held by process ${owner ?? 'unknown'}); ` +
          'remove the file if no rla-net process is using it',
      );
    }
    await sleep(pollMs);
  }
  try {
    return await task();
  } finally {
    await fs.rm(lockPath, { force: true });
  }
}
