/**
 * mmdetection 2.10's `RPNHead` and its test-time proposal selection (`_get_bboxes_single`): per level the
 * `nmsPre` highest sigmoid objectness scores, decoded against their anchors and clipped to the image, NMS within
 * each level (batched over level ids), then the first `maxPerImg` by score. Keys: `rpn_conv`, `rpn_cls`, `rpn_reg`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d } from '../nn/conv.js';
import type { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { decodeDeltas } from './box-coder.js';
import type { RpnConfig } from './config.js';
import { argsortDescending, batchedNms } from './nms.js';

const f32 = Math.fround;

/** Float32 logistic, as PyTorch's `sigmoid` on a float tensor. */
export function sigmoid(x: number): number {
  return f32(1 / (1 + Math.exp(-x)));
}

export class RPNHead extends Module {
  readonly rpn_conv: Conv2d;
  readonly rpn_cls: Conv2d;
  readonly rpn_reg: Conv2d;

  constructor(inChannels: number, featChannels: number, numAnchors: number, rng: Rng) {
    super();
    this.rpn_conv = this.addModule(
      'rpn_conv',
      new Conv2d(inChannels, featChannels, 3, rng, { padding: 1, bias: true }),
    );
    this.rpn_cls = this.addModule('rpn_cls', new Conv2d(featChannels, numAnchors, 1, rng, { bias: true }));
    this.rpn_reg = this.addModule(
      'rpn_reg',
      new Conv2d(featChannels, numAnchors * 4, 1, rng, { bias: true }),
    );
  }

  /** Per pyramid level (NHWC): objectness logits [1, H, W, A] and deltas [1, H, W, 4A]. */
  forward(levels: tf.Tensor4D[]): Array<{ cls: tf.Tensor4D; reg: tf.Tensor4D }> {
    return levels.map((x) =>
      tf.tidy(() => {
        const hidden = tf.relu(this.rpn_conv.forward(x));
        return { cls: this.rpn_cls.forward(hidden), reg: this.rpn_reg.forward(hidden) };
      }),
    );
  }
}

/** Proposals of one image: boxes [m * 4] (resized-image pixels) and scores [m], by descending score. */
export interface Proposals {
  boxes: Float32Array;
  scores: Float32Array;
}

/**
 * Selects proposals from the head outputs of each level (`logits` [H*W*A] and `deltas` [H*W*A*4], NHWC order) and
 * the matching `anchors`; `imageShape` = [height, width] of the resized image.
 */
export function selectProposals(
  levels: Array<{ logits: Float32Array; deltas: Float32Array }>,
  anchors: Float32Array[],
  config: RpnConfig,
  imageShape: readonly [number, number],
): Proposals {
  const { nmsPre, maxPerImg, iouThreshold, minBboxSize } = config.test;
  const scores: number[] = [];
  const levelIds: number[] = [];
  const chosenAnchors: number[] = [];
  const chosenDeltas: number[] = [];
  levels.forEach(({ logits, deltas }, level) => {
    const levelScores = Float32Array.from(logits, sigmoid);
    let order = Array.from({ length: levelScores.length }, (_, i) => i);
    if (nmsPre > 0 && levelScores.length > nmsPre) order = argsortDescending(levelScores).slice(0, nmsPre);
    for (const i of order) {
      scores.push(levelScores[i]);
      levelIds.push(level);
      for (let j = 0; j < 4; j++) {
        chosenAnchors.push(anchors[level][4 * i + j]);
        chosenDeltas.push(deltas[4 * i + j]);
      }
    }
  });
  let boxes = decodeDeltas(
    Float32Array.from(chosenAnchors),
    Float32Array.from(chosenDeltas),
    config.stds,
    imageShape,
  );
  let kept = Array.from({ length: scores.length }, (_, i) => i);
  if (minBboxSize > 0) {
    // mmdet 2.10 drops boxes not larger than min_bbox_size only when it is positive.
    kept = kept.filter(
      (i) =>
        boxes[4 * i + 2] - boxes[4 * i] > minBboxSize && boxes[4 * i + 3] - boxes[4 * i + 1] > minBboxSize,
    );
  }
  const candidates = gather(boxes, kept);
  const candidateScores = kept.map((i) => scores[i]);
  const keep = batchedNms(
    candidates,
    candidateScores,
    kept.map((i) => levelIds[i]),
    iouThreshold,
  ).slice(0, maxPerImg);
  boxes = gather(candidates, keep);
  return { boxes, scores: Float32Array.from(keep, (i) => candidateScores[i]) };
}

/** Rows `indices` of a [n * 4] box array. */
export function gather(boxes: Float32Array, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * 4);
  indices.forEach((i, k) => {
    out.set(boxes.subarray(4 * i, 4 * i + 4), 4 * k);
  });
  return out;
}
