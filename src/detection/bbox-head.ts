/**
 * mmdetection's `Shared2FCBBoxHead` (Faster / Mask R-CNN): flatten the 7x7 RoI features in PyTorch's (C, H, W)
 * order, two shared FC + ReLU layers, then class logits (the background is the LAST class) and class-specific
 * deltas. Keys: `shared_fcs.0/1`, `fc_cls`, `fc_reg`. Test-time post-processing is `multiclass_nms` (nms.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module, ModuleList } from '../nn/module.js';
import { batchedNms } from './nms.js';

export class Shared2FCBBoxHead extends Module {
  readonly shared_fcs: ModuleList<Linear>;
  readonly fc_cls: Linear;
  readonly fc_reg: Linear;

  constructor(
    inChannels: number,
    readonly roiSize: number,
    fcOutChannels: number,
    readonly numClasses: number,
    rng: Rng,
  ) {
    super();
    this.shared_fcs = this.addModule(
      'shared_fcs',
      new ModuleList([
        new Linear(inChannels * roiSize * roiSize, fcOutChannels, rng),
        new Linear(fcOutChannels, fcOutChannels, rng),
      ]),
    );
    this.fc_cls = this.addModule('fc_cls', new Linear(fcOutChannels, numClasses + 1, rng));
    this.fc_reg = this.addModule('fc_reg', new Linear(fcOutChannels, numClasses * 4, rng));
  }

  /** RoI features [n, S, S, C] (NHWC) -> class logits [n, classes + 1] and deltas [n, classes * 4]. */
  forward(roiFeatures: tf.Tensor4D): { cls: tf.Tensor2D; reg: tf.Tensor2D } {
    return tf.tidy(() => {
      const n = roiFeatures.shape[0];
      let x = tf.reshape(tf.transpose(roiFeatures, [0, 3, 1, 2]), [n, -1]) as tf.Tensor2D;
      for (const fc of this.shared_fcs) x = tf.relu(fc.forward(x));
      return { cls: this.fc_cls.forward(x), reg: this.fc_reg.forward(x) };
    });
  }
}

/** Final detections of one image: boxes [k * 4], scores [k], 0-based labels [k], by descending score. */
export interface RawDetections {
  boxes: Float32Array;
  scores: Float32Array;
  labels: Int32Array;
}

/**
 * mmdet's `multiclass_nms`: every (box, class) pair whose score is above `scoreThr` is a candidate (row-major over
 * boxes then classes), class-wise NMS, then the first `maxPerImg`. `scores` [n, numClasses] (no background
 * column); `boxes` [n, numClasses * 4] (class-specific) or [n, 4] (shared by all classes).
 */
export function multiclassNms(
  boxes: Float32Array,
  scores: Float32Array,
  numClasses: number,
  test: { scoreThr: number; iouThreshold: number; maxPerImg: number },
): RawDetections {
  const n = scores.length / numClasses;
  const classSpecific = boxes.length === n * numClasses * 4;
  const candidateBoxes: number[] = [];
  const candidateScores: number[] = [];
  const candidateLabels: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < numClasses; c++) {
      const score = scores[i * numClasses + c];
      if (!(score > test.scoreThr)) continue;
      const at = classSpecific ? (i * numClasses + c) * 4 : i * 4;
      candidateBoxes.push(boxes[at], boxes[at + 1], boxes[at + 2], boxes[at + 3]);
      candidateScores.push(score);
      candidateLabels.push(c);
    }
  }
  const all = Float32Array.from(candidateBoxes);
  const keep = batchedNms(all, candidateScores, candidateLabels, test.iouThreshold).slice(0, test.maxPerImg);
  const out: RawDetections = {
    boxes: new Float32Array(keep.length * 4),
    scores: Float32Array.from(keep, (i) => candidateScores[i]),
    labels: Int32Array.from(keep, (i) => candidateLabels[i]),
  };
  keep.forEach((i, k) => {
    out.boxes.set(all.subarray(4 * i, 4 * i + 4), 4 * k);
  });
  return out;
}
