/**
 * mmdetection 2.10's `RetinaHead`: two towers of `stackedConvs` 3x3 conv + ReLU (classification, regression) shared
 * by all levels, then `retina_cls` (A * classes sigmoid logits) and `retina_reg` (A * 4 deltas). Test time
 * (`AnchorHead.get_bboxes`): per level the `nmsPre` anchors with the highest max-class score, decoded and
 * clipped; all levels rescaled to the original image, then `multiclass_nms`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d } from '../nn/conv.js';
import type { Rng } from '../nn/init.js';
import { Module, ModuleList } from '../nn/module.js';
import { decodeDeltas } from './box-coder.js';
import type { RetinaConfig } from './config.js';
import { ConvModule } from './conv-module.js';
import { argsortDescending } from './nms.js';
import { sigmoid } from './rpn.js';

export class RetinaHead extends Module {
  readonly cls_convs: ModuleList<ConvModule>;
  readonly reg_convs: ModuleList<ConvModule>;
  readonly retina_cls: Conv2d;
  readonly retina_reg: Conv2d;

  constructor(
    inChannels: number,
    config: RetinaConfig,
    numAnchors: number,
    readonly numClasses: number,
    rng: Rng,
  ) {
    super();
    const { featChannels, stackedConvs } = config;
    const tower = () =>
      new ModuleList(
        Array.from(
          { length: stackedConvs },
          (_, i) =>
            new ConvModule(i === 0 ? inChannels : featChannels, featChannels, 3, rng, {
              padding: 1,
              relu: true,
            }),
        ),
      );
    this.cls_convs = this.addModule('cls_convs', tower());
    this.reg_convs = this.addModule('reg_convs', tower());
    this.retina_cls = this.addModule(
      'retina_cls',
      new Conv2d(featChannels, numAnchors * numClasses, 3, rng, { padding: 1, bias: true }),
    );
    this.retina_reg = this.addModule(
      'retina_reg',
      new Conv2d(featChannels, numAnchors * 4, 3, rng, { padding: 1, bias: true }),
    );
  }

  /** Per level (NHWC): class logits [1, H, W, A * classes] and deltas [1, H, W, 4A]. */
  forward(levels: tf.Tensor4D[]): Array<{ cls: tf.Tensor4D; reg: tf.Tensor4D }> {
    return levels.map((x) =>
      tf.tidy(() => {
        let c = x;
        let r = x;
        for (const conv of this.cls_convs) c = conv.forward(c);
        for (const conv of this.reg_convs) r = conv.forward(r);
        return { cls: this.retina_cls.forward(c), reg: this.retina_reg.forward(r) };
      }),
    );
  }
}

/**
 * Candidate boxes and class scores of all levels before NMS: boxes [m * 4] in resized-image pixels and sigmoid
 * scores [m * classes], `nmsPre` anchors per level chosen by their highest class score.
 */
export function retinaCandidates(
  levels: Array<{ logits: Float32Array; deltas: Float32Array }>,
  anchors: Float32Array[],
  numClasses: number,
  config: RetinaConfig,
  imageShape: readonly [number, number],
): { boxes: Float32Array; scores: Float32Array } {
  const boxes: Float32Array[] = [];
  const scores: Float32Array[] = [];
  levels.forEach(({ logits, deltas }, level) => {
    const probabilities = Float32Array.from(logits, sigmoid);
    const count = probabilities.length / numClasses;
    let order = Array.from({ length: count }, (_, i) => i);
    if (config.test.nmsPre > 0 && count > config.test.nmsPre) {
      const maxScores = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        let best = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < numClasses; c++) best = Math.max(best, probabilities[i * numClasses + c]);
        maxScores[i] = best;
      }
      order = argsortDescending(maxScores).slice(0, config.test.nmsPre);
    }
    const chosenAnchors = new Float32Array(order.length * 4);
    const chosenDeltas = new Float32Array(order.length * 4);
    const chosenScores = new Float32Array(order.length * numClasses);
    order.forEach((i, k) => {
      chosenAnchors.set(anchors[level].subarray(4 * i, 4 * i + 4), 4 * k);
      chosenDeltas.set(deltas.subarray(4 * i, 4 * i + 4), 4 * k);
      chosenScores.set(probabilities.subarray(i * numClasses, (i + 1) * numClasses), k * numClasses);
    });
    boxes.push(decodeDeltas(chosenAnchors, chosenDeltas, config.stds, imageShape));
    scores.push(chosenScores);
  });
  return { boxes: concat(boxes), scores: concat(scores) };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
