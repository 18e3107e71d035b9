/**
 * Chooses and initialises the TensorFlow.js backend, in Node and in browsers.
 *
 * Order when nothing is asked for: `tensorflow` (Node only, if the optional peer `@tensorflow/tfjs-node` is
 * installed), then `wasm` (XNNPACK; the fast default on CPUs), then the pure-JS `cpu` backend. `webgl` and `webgpu`
 * are used only when asked for: the application installs and imports their packages (as with tfjs-models), so
 * rla-net never pulls a GPU backend into a bundle that does not want one.
 * The choice can be forced by option, by the CLI's `--backend`, or by the `RLA_BACKEND` environment variable.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu', 'webgl', 'webgpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = BackendName | 'auto';

/** Backends `auto` tries, fastest first. */
const AUTO_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** The package that registers each backend rla-net does not import itself. */
const BACKEND_PACKAGES: Partial<Record<BackendName, string>> = {
  tensorflow: '@tensorflow/tfjs-node',
  webgl: '@tensorflow/tfjs-backend-webgl',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
};

/** Environment variable that overrides the automatic backend choice. */
export const BACKEND_ENV_VAR = 'RLA_BACKEND';

/**
 * Where the wasm backend finds its `.wasm` binaries: a URL prefix ending in `/` (e.g. `'/assets/tfjs/'` or a CDN
 * folder), or one URL per file name (`tfjs-backend-wasm.wasm`, `-simd.wasm`, `-threaded-simd.wasm`).
 */
export type WasmPaths = string | Record<string, string>;

export interface BackendOptions {
  /** Backend to use; `auto` (default) picks the fastest one available. */
  backend?: BackendChoice;
  /** wasm threads; tfjs only honours this in browsers with cross-origin isolation, never in Node. */
  wasmThreads?: number;
  /**
   * Where to fetch the wasm binaries from (browsers: wherever the app serves them). Default: in Node, the installed
   * `@tensorflow/tfjs-backend-wasm` package; elsewhere, tfjs's own default (next to the script).
   */
  wasmPaths?: WasmPaths;
}

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

const isNode = typeof globalThis.process?.versions?.node === 'string';

let wasmConfigured = false;

/** Imports the package that registers `name` (if it is not registered yet); false when it is not installed. */
async function importBackendPackage(name: BackendName): Promise<boolean> {
  if (tf.findBackendFactory(name) !== null) return true;
  const packageName = BACKEND_PACKAGES[name];
  if (packageName === undefined) return false;
  // tfjs-node is a native Node addon: no browser can load it, so do not even try there.
  if (name === 'tensorflow' && !isNode) return false;
  try {
    // A variable specifier: resolved at run time only (bundlers leave it alone), so a missing optional package
    // is a normal outcome rather than a build error.
    await import(packageName);
  } catch {
    return false;
  }
  return tf.findBackendFactory(name) !== null;
}

/**
 * The installed wasm binaries' folder in Node. Loaded lazily through a variable specifier: the locator uses
 * `node:fs`, and browser bundles must never see it.
 */
async function nodeWasmDirectory(): Promise<string | null> {
  if (!isNode) return null;
  const locatorModule = './wasm-files.js';
  const { locateWasmDirectory } = (await import(locatorModule)) as typeof import('./wasm-files.js');
  return locateWasmDirectory();
}

async function configureWasm(options: BackendOptions): Promise<void> {
  if (wasmConfigured) return;
  const paths = options.wasmPaths ?? (await nodeWasmDirectory());
  if (paths !== null) setWasmPaths(paths as Parameters<typeof setWasmPaths>[0]);
  if (options.wasmThreads !== undefined) setThreadsCount(options.wasmThreads);
  wasmConfigured = true;
}

async function activate(name: BackendName, options: BackendOptions): Promise<boolean> {
  if (BACKEND_PACKAGES[name] !== undefined && !(await importBackendPackage(name))) return false;
  if (name === 'wasm') await configureWasm(options);
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

/** Why `name` could not start, with what to do about it. */
function startFailure(name: BackendName): Error {
  const packageName = BACKEND_PACKAGES[name];
  let hint = '';
  if (name === 'tensorflow') hint = ` (Node only; install the optional peer ${packageName})`;
  else if (packageName !== undefined && tf.findBackendFactory(name) === null)
    hint = ` (install ${packageName} and import it in the application before initBackend)`;
  else if (name === 'wasm') hint = ' (are the .wasm binaries served where wasmPaths says?)';
  return new Error(`backend "${name}" could not be started${hint}`);
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
    if (!(await activate(requested, options))) throw startFailure(requested);
    return requested;
  }
  for (const name of AUTO_ORDER) {
    if (await activate(name, options)) return name;
  }
  throw new Error('no TensorFlow.js backend could be started');
}

/** The name of the backend tfjs is using now. */
export function currentBackend(): string {
  return tf.getBackend();
}
