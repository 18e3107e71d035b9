/**
 * Chooses and initialises the TensorFlow.js backend.
 *
 * Order when nothing is asked for: `tensorflow` (only if the optional peer `@tensorflow/tfjs-node` is installed),
 * then `wasm` (XNNPACK; the fast default on Node CPUs), then the pure-JS `cpu` backend.
 * The choice can be forced by option, by the CLI's `--backend`, or by the `RLA_BACKEND` environment variable.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { locateWasmDirectory } from './wasm-files.js';

export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = BackendName | 'auto';

/** Environment variable that overrides the automatic backend choice. */
export const BACKEND_ENV_VAR = 'RLA_BACKEND';

export interface BackendOptions {
  /** Backend to use; `auto` (default) picks the fastest one available. */
  backend?: BackendChoice;
  /** wasm threads; tfjs only honours this in browsers with cross-origin isolation, never in Node. */
  wasmThreads?: number;
}

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

let wasmConfigured = false;

async function tryTensorflow(): Promise<boolean> {
  try {
    // Optional peer dependency: resolved at run time only, so a missing package is a normal outcome.
    const moduleName = '@tensorflow/tfjs-node';
    await import(moduleName);
    return tf.findBackendFactory('tensorflow') !== null;
  } catch {
    return false;
  }
}

function configureWasm(options: BackendOptions): void {
  if (wasmConfigured) return;
  const directory = locateWasmDirectory();
  if (directory !== null) setWasmPaths(directory);
  if (options.wasmThreads !== undefined) setThreadsCount(options.wasmThreads);
  wasmConfigured = true;
}

async function activate(name: BackendName, options: BackendOptions): Promise<boolean> {
  if (name === 'tensorflow' && !(await tryTensorflow())) return false;
  if (name === 'wasm') configureWasm(options);
  if (tf.getBackend() === name) return true;
  try {
    const ok = await tf.setBackend(name);
    if (ok) await tf.ready();
    return ok;
  } catch {
    return false;
  }
}

function requestedBackend(options: BackendOptions): BackendChoice {
  const fromEnv = globalThis.process?.env?.[BACKEND_ENV_VAR];
  const requested = options.backend ?? (fromEnv && fromEnv.length > 0 ? fromEnv : 'auto');
  if (requested !== 'auto' && !isBackendName(requested)) {
    const source =
      options.backend === undefined ? `${BACKEND_ENV_VAR}=${requested}` : `backend "${requested}"`;
    throw new Error(`unknown ${source}: choose one of auto, ${BACKEND_NAMES.join(', ')}`);
  }
  return requested as BackendChoice;
}

/**
 * Selects a backend and waits until it is ready. Returns the name of the active backend.
 * An explicitly requested backend that cannot start is an error (no silent fallback).
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendName> {
  // Silences tfjs's console banners ("install tfjs-node"); PROD gates nothing but warnings.
  tf.enableProdMode();
  const requested = requestedBackend(options);
  if (requested !== 'auto') {
    if (!(await activate(requested, options))) {
      const hint = requested === 'tensorflow' ? ' (install the optional peer @tensorflow/tfjs-node)' : '';
      throw new Error(`backend "${requested}" could not be started${hint}`);
    }
    return requested;
  }
  for (const name of BACKEND_NAMES) {
    if (await activate(name, options)) return name;
  }
  throw new Error('no TensorFlow.js backend could be started');
}

/** The name of the backend tfjs is using now. */
export function currentBackend(): string {
  return tf.getBackend();
}
