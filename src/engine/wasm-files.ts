/**
 * Finds the directory that holds tfjs-backend-wasm's `.wasm` binaries, from the installed package itself,
 * so the wasm backend starts from any working directory and from `dist/`. Node only: engine/backend.ts imports this
 * file lazily, by a specifier bundlers do not follow, so browser bundles never see `node:fs`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const WASM_FILE = 'tfjs-backend-wasm-simd.wasm';

/** Directory (with trailing separator) holding the wasm binaries, or null outside Node / when not found. */
export function locateWasmDirectory(): string | null {
  if (typeof globalThis.process?.versions?.node !== 'string') return null;
  try {
    const require = createRequire(import.meta.url);
    const entry = require.resolve('@tensorflow/tfjs-backend-wasm');
    let directory = dirname(entry);
    // The resolved entry lives in dist/ (or a subfolder of it); walk up until the binaries are found.
    for (let i = 0; i < 4; i++) {
      if (existsSync(join(directory, WASM_FILE))) return `${directory}/`;
      directory = dirname(directory);
    }
  } catch {
    // fall through: let tfjs use its own default location
  }
  return null;
}
