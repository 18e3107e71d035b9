/**
 * The seam between the detection commands and the detectors: a function that opens a detector from a weights
 * file. `src/detection/create-detector.ts`'s `createDetector` is the real one; tests pass fakes.
 */
import type { InferenceSessionOptions } from '../onnx/session.js';
import type { Detector } from './types.js';

/** What a detector is opened from. */
export interface DetectorFileOptions {
  /** The checkpoint: an mmdetection `.pth` (state_dict + meta) or a `.safetensors` naming its config. */
  weights: string;
  /** Engine of the backbone, FPN and dense head: 'tfjs' (default) or 'ort' (ONNX Runtime). */
  engine?: 'tfjs' | 'ort';
  /** ONNX Runtime session options of the 'ort' engine. */
  ort?: InferenceSessionOptions;
}

/**
 * Opens a detector. `configName` (e.g. `mask_rcnn_r50rla_fpn`) may be left out when the weights file names its
 * config. Throws a clear error for an unknown config name (listing the valid ones) and for a checkpoint that is
 * not a detector's.
 */
export type DetectorFactory = (
  configName: string | undefined,
  options: DetectorFileOptions,
) => Promise<Detector>;
