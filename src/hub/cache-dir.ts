/**
 * Where downloaded weights are kept: `RLA_HOME` when set, else the user's cache directory
 * (`$XDG_CACHE_HOME/rla-net`, or `~/.cache/rla-net`), the convention of torch.hub (`TORCH_HOME`) and the
 * Hugging Face hub (`HF_HOME`).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache root for an environment (defaults to this process's). */
export function rlaHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RLA_HOME) return env.RLA_HOME;
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'rla-net');
}

/** The directory under the cache root that holds downloaded weight files. */
export function weightsCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(rlaHome(env), 'weights');
}
