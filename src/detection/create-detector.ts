/**
 * `createDetector`: the one entry point that builds a detector by config name and loads its weights, tfjs-models
 * style (`const detector = await createDetector('mask_rcnn_r50rla_fpn', { weights }); await detector.detect(img)`).
 */
import type { LoadReport } from '../checkpoint/load-checkpoint.js';
import type { InferenceSessionOptions } from '../onnx/session.js';
import { CheckpointError } from '../weights/errors.js';
import {
  inferDetectorConfigName,
  loadDetectorWeights,
  readDetectorWeights,
  storedDetectorConfig,
} from './checkpoint.js';
import { type DetectorConfig, detectorConfig } from './config.js';
import { RLADetector } from './detector.js';

export interface CreateDetectorOptions {
  /** Weights: a file path (Node) or the file's bytes; mmdetection `.pth` or rla-net `.safetensors`. */
  weights?: string | Uint8Array;
  /** Default true: the file must fit the config key for key. */
  strict?: boolean;
  /** Seed of the random initialisation (used when no weights are given). */
  seed?: number;
  /** A config to use instead of a registered one (e.g. a smaller test scale); `configName` then only names it. */
  config?: DetectorConfig;
  /**
   * Engine of the dense part (backbone, FPN, dense head): 'tfjs' (default, the active TF.js backend) or 'ort'
   * (traced into one ONNX graph and run by onnxruntime-node; Node only). Post-processing runs in JS either way.
   */
  engine?: DetectorEngine;
  /** ONNX Runtime session options of the 'ort' engine (threads, providers, log level). */
  ort?: InferenceSessionOptions;
}

export type DetectorEngine = 'tfjs' | 'ort';

/** A detector with its load report (null without weights). */
export interface CreatedDetector {
  detector: RLADetector;
  report: LoadReport | null;
}

async function weightsBytes(weights: string | Uint8Array): Promise<{ bytes: Uint8Array; fileName: string }> {
  if (typeof weights !== 'string') return { bytes: weights, fileName: 'weights' };
  const { readFileBytes } = await import('../weights/files-node.js');
  const { basename } = await import('node:path');
  return { bytes: await readFileBytes(weights), fileName: basename(weights) };
}

/**
 * Builds the detector `configName` (see `listDetectorConfigs`) and loads `options.weights`. `configName` may be
 * omitted (undefined) when the weights are an rla-net safetensors file that names its config, or a full-size
 * mmdet checkpoint of a released config (recognised from its keys, see `inferDetectorConfigName`).
 */
export async function createDetectorWithReport(
  configName: string | undefined,
  options: CreateDetectorOptions = {},
): Promise<CreatedDetector> {
  if (!options.weights) {
    if (!configName) throw new Error('createDetector needs a config name or weights that name one');
    const config = options.config ?? detectorConfig(configName);
    const detector = new RLADetector(configName, config, { seed: options.seed });
    return { detector: await withEngine(detector, options), report: null };
  }
  const { bytes, fileName } = await weightsBytes(options.weights);
  const source = readDetectorWeights(bytes, fileName);
  const stored = storedDetectorConfig(source, fileName);
  const name = configName ?? stored?.name ?? inferDetectorConfigName(source) ?? undefined;
  if (!name) {
    throw new CheckpointError(
      `${fileName}: the file does not name its detector config and its keys fit no released config; pass one (e.g. faster_rcnn_r50rla_fpn)`,
    );
  }
  const config =
    options.config ??
    (stored && stored.name === name && stored.config ? stored.config : detectorConfig(name));
  const detector = new RLADetector(name, config, { seed: options.seed });
  try {
    const report = loadDetectorWeights(detector, source, { fileName, strict: options.strict });
    return { detector: await withEngine(detector, options), report };
  } catch (error) {
    detector.dispose();
    throw error;
  }
}

/** Sets up the requested engine once the weights are in place (the ORT graph holds a copy of them). */
async function withEngine(detector: RLADetector, options: CreateDetectorOptions): Promise<RLADetector> {
  const engine = options.engine ?? 'tfjs';
  if (engine === 'tfjs') return detector;
  try {
    if (engine !== 'ort') throw new Error(`unknown detector engine ${String(engine)}; choose tfjs or ort`);
    const { createOrtDetectorEngine } = await import('./ort-engine.js');
    detector.setEngine(await createOrtDetectorEngine(detector, options.ort));
    return detector;
  } catch (error) {
    detector.dispose();
    throw error;
  }
}

/** Builds a ready detector (see `createDetectorWithReport`). */
export async function createDetector(
  configName: string | undefined,
  options: CreateDetectorOptions = {},
): Promise<RLADetector> {
  return (await createDetectorWithReport(configName, options)).detector;
}
