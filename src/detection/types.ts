/**
 * The contract between detectors (src/detection/models) and their users (COCO evaluation, drawing, the CLI).
 * Boxes are in the original image's pixel coordinates, x1 y1 x2 y2, as mmdetection's `bbox_results` give them.
 */

import type { RawImage } from '../data/image.js';

/** A binary instance mask at the original image's resolution, row-major, 1 inside the instance. */
export interface BinaryMask {
  width: number;
  height: number;
  data: Uint8Array;
}

/** One detection: a box, its score, its 0-based class index (COCO's 80 classes in mmdet order) and name. */
export interface Detection {
  box: [number, number, number, number];
  score: number;
  label: number;
  labelName: string;
  mask?: BinaryMask;
}

/** A ready detector: `detect` runs preprocessing, the network and post-processing on one RGB image. */
export interface Detector {
  /** The config name, e.g. `faster_rcnn_r50rla_fpn`. */
  readonly configName: string;
  readonly classNames: readonly string[];
  detect(image: RawImage): Promise<Detection[]>;
  dispose(): void;
}
