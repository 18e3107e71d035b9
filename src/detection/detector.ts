/**
 * The three detectors of the official RLA-Net `mmdetection/` folder with mmdetection 2.10 test semantics:
 * Faster R-CNN and Mask R-CNN (RLA-ResNet + FPN P2-P6 + RPN + RoIAlign + Shared2FC box head [+ FCN mask head]) and
 * RetinaNet (RLA-ResNet + FPN P3-P7 + RetinaHead). The module tree carries mmdet's state_dict keys (`backbone.`,
 * `neck.`, `rpn_head.`, `roi_head.bbox_head.`, `roi_head.mask_head.`, `bbox_head.`), so released checkpoints load
 * strictly. Convolutions run on TF.js; proposal selection, RoIAlign, NMS and mask pasting run on the CPU in float32.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RawImage } from '../data/image.js';
import { RLAResNet } from '../models/rla-resnet.js';
import { OFFICIAL_RLA } from '../models/rla-variant.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { Rng } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { anchorsPerCell, levelAnchors } from './anchors.js';
import { multiclassNms, type RawDetections, Shared2FCBBoxHead } from './bbox-head.js';
import { decodeDeltas } from './box-coder.js';
import { COCO_CLASSES } from './coco-classes.js';
import { type DetectorConfig, validateDetectorConfig } from './config.js';
import { FPN } from './fpn.js';
import { FCNMaskHead } from './mask-head.js';
import { pasteMask } from './mask-paste.js';
import { type PreparedImage, prepareImage } from './preprocess.js';
import { RetinaHead, retinaCandidates } from './retina-head.js';
import { extractRoiFeatures, type FeatureMap } from './roi-align.js';
import { RPNHead, selectProposals, sigmoid } from './rpn.js';
import type { BinaryMask, Detection, Detector } from './types.js';

/** Receives named intermediates of one image (NHWC tensors' data, or flat arrays) for parity tests. */
export type DetectionSink = (name: string, data: Float32Array | Int32Array, shape: number[]) => void;

/** One pyramid level's dense head outputs, NHWC data: logits [1, H, W, A * classes], deltas [1, H, W, 4A]. */
export interface HeadOutput {
  logits: Float32Array;
  deltas: Float32Array;
  clsShape: number[];
  regShape: number[];
}

/** The dense part's results for one image: every pyramid level and its head outputs. */
export interface DenseOutputs {
  maps: FeatureMap[];
  heads: HeadOutput[];
}

/** Box head outputs of n RoIs: class logits [n, classes + 1] and deltas [n, classes * 4]. */
export interface BoxHeadOutput {
  logits: Float32Array;
  deltas: Float32Array;
}

/**
 * Another engine for the network parts of a detector (ONNX Runtime, see ort-engine.ts): the dense part
 * (backbone, FPN, dense head) and, where it has them, the R-CNN box and mask heads; the rest runs in JS.
 */
export interface DetectorEngine {
  readonly name: string;
  /** The prepared image (NHWC [1, H, W, 3], padded) -> the dense outputs; the caller disposes the input. */
  dense(input: tf.Tensor4D): Promise<DenseOutputs>;
  /** RoI features [n, 7, 7, C] (NHWC data) -> the box head outputs. */
  boxHead?(features: Float32Array, count: number): Promise<BoxHeadOutput>;
  /** RoI features [k, 14, 14, C] -> mask logits [k, 28, 28, classes] (NHWC data). */
  maskHead?(features: Float32Array, count: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Detections of one image in original-image pixels, with masks for Mask R-CNN. */
export interface DetectorOutput extends RawDetections {
  masks: BinaryMask[] | null;
}

/** `roi_head` of the R-CNNs: the box head and, for Mask R-CNN, the mask head. */
class StandardRoIHead extends Module {
  readonly bbox_head: Shared2FCBBoxHead;
  readonly mask_head: FCNMaskHead | null = null;
  constructor(config: DetectorConfig, rng: Rng) {
    super();
    const channels = config.neck.outChannels;
    const roi = config.roi!;
    this.bbox_head = this.addModule(
      'bbox_head',
      new Shared2FCBBoxHead(channels, 7, roi.fcOutChannels, config.numClasses, rng),
    );
    if (roi.mask) {
      const { numConvs, convOutChannels } = roi.mask;
      this.mask_head = this.addModule(
        'mask_head',
        new FCNMaskHead(channels, numConvs, convOutChannels, config.numClasses, rng),
      );
    }
  }
}

/** The official detection backbone: RLA-ResNet without its head, stage outputs x (not h) go to the FPN. */
export function createDetectionBackbone(config: DetectorConfig, seed?: number): RLAResNet {
  const b = config.backbone;
  const backbone = new RLAResNet({
    layers: b.layers,
    numClasses: 1,
    groups: 1,
    widthPerGroup: 64,
    se: false,
    ecaKernelSizes: b.ecaKernelSizes,
    zeroInitLastBn: true,
    seed,
    stagePlanes: b.stagePlanes,
    rlaChannel: b.rlaChannel,
    variant: OFFICIAL_RLA,
    featuresOnly: true,
  });
  backbone.eval();
  return backbone;
}

/** Marks the stem and stages 1..n untrainable (`frozen_stages`), as the official backbone's `_freeze_stages`. */
export function freezeStages(backbone: RLAResNet, frozenStages: number): void {
  if (frozenStages < 0) return;
  const modules: Module[] = [backbone.conv1, backbone.bn1];
  for (let s = 0; s < frozenStages; s++) {
    modules.push(backbone.stages.at(s));
    if (backbone.stage_bns) modules.push(backbone.stage_bns.at(s));
    if (backbone.conv_outs) modules.push(backbone.conv_outs.at(s));
    if (backbone.recurrent_convs) modules.push(backbone.recurrent_convs.at(s));
  }
  for (const module of modules)
    for (const parameter of module.parameters()) parameter.variable.trainable = false;
}

export class RLADetector extends Module implements Detector {
  readonly backbone: RLAResNet;
  readonly neck: FPN;
  readonly rpn_head: RPNHead | null = null;
  readonly roi_head: StandardRoIHead | null = null;
  readonly bbox_head: RetinaHead | null = null;
  readonly classNames: readonly string[];

  constructor(
    readonly configName: string,
    readonly config: DetectorConfig,
    options: { seed?: number; classNames?: readonly string[] } = {},
  ) {
    super();
    validateDetectorConfig(config);
    const rng = new Rng(options.seed ?? 0);
    this.classNames =
      options.classNames ??
      (config.numClasses === COCO_CLASSES.length ? COCO_CLASSES : numbered(config.numClasses));
    this.backbone = this.addModule('backbone', createDetectionBackbone(config, options.seed));
    freezeStages(this.backbone, config.backbone.frozenStages);
    this.neck = this.addModule('neck', new FPN(config.neck, rng));
    const channels = config.neck.outChannels;
    if (config.kind === 'retinanet') {
      const retina = config.retina!;
      this.bbox_head = this.addModule(
        'bbox_head',
        new RetinaHead(channels, retina, anchorsPerCell(retina.anchors), config.numClasses, rng),
      );
    } else {
      const rpn = config.rpn!;
      this.rpn_head = this.addModule(
        'rpn_head',
        new RPNHead(channels, rpn.featChannels, anchorsPerCell(rpn.anchors), rng),
      );
      this.roi_head = this.addModule('roi_head', new StandardRoIHead(config, rng));
    }
    this.eval();
  }

  /** Training mode everywhere except the backbone's BatchNorms when `normEval` (they stay frozen). */
  override train(mode = true): this {
    super.train(mode);
    if (mode && this.config.backbone.normEval) {
      for (const [, module] of this.backbone.namedModules()) {
        if (module instanceof BatchNorm2d) module.training = false;
      }
    }
    return this;
  }

  /**
   * Runs the network parts (backbone, FPN, dense head; box / mask heads where the engine has them) on `engine`
   * from now on (the ONNX Runtime one of ort-engine.ts), or on TF.js again with null. Releases the previous one.
   */
  setEngine(engine: DetectorEngine | null): void {
    // Releasing frees native sessions; nothing waits on it, and a failure there must not crash the process.
    void this.networkEngine?.release().catch(() => undefined);
    this.networkEngine = engine;
  }

  /** Which engine runs the network parts: 'tfjs' or the engine's name ('ort'). */
  get engine(): string {
    return this.networkEngine?.name ?? 'tfjs';
  }

  private networkEngine: DetectorEngine | null = null;

  override dispose(): void {
    this.setEngine(null);
    super.dispose();
  }

  async detect(image: RawImage): Promise<Detection[]> {
    const output = await this.run(image);
    return Array.from(output.scores, (score, i) => {
      const label = output.labels[i];
      const b = output.boxes.subarray(4 * i, 4 * i + 4);
      const detection: Detection = {
        box: [b[0], b[1], b[2], b[3]],
        score,
        label,
        labelName: this.classNames[label] ?? String(label),
      };
      if (output.masks) detection.mask = output.masks[i];
      return detection;
    });
  }

  /**
   * Preprocesses one image and runs the whole detector (network parts on the engine set by `setEngine`, TF.js
   * by default); `sink` receives the intermediates.
   */
  async run(image: RawImage, sink?: DetectionSink): Promise<DetectorOutput> {
    const prepared = prepareImage(image, this.config);
    let dense: DenseOutputs;
    try {
      dense = this.networkEngine
        ? await this.networkEngine.dense(prepared.input)
        : this.denseTfjs(prepared.input);
    } finally {
      prepared.input.dispose();
    }
    return this.postProcess(dense, prepared, sink);
  }

  /** Backbone, FPN and dense head on TF.js, read back as NHWC data. */
  private denseTfjs(input: tf.Tensor4D): DenseOutputs {
    const levels = tf.tidy(() => this.neck.forward(this.backbone.forwardStages(input).map((s) => s.x)));
    try {
      const maps = levels.map((level) => featureMap(level));
      const head = this.bbox_head ?? this.rpn_head!;
      const heads = head.forward(levels).map(({ cls, reg }) => {
        const output: HeadOutput = {
          logits: cls.dataSync() as Float32Array,
          deltas: reg.dataSync() as Float32Array,
          clsShape: cls.shape,
          regShape: reg.shape,
        };
        tf.dispose([cls, reg]);
        return output;
      });
      return { maps, heads };
    } finally {
      tf.dispose(levels);
    }
  }

  /** Everything after the dense part: proposals, RoI heads, NMS, masks (or RetinaNet's candidates and NMS). */
  private async postProcess(
    { maps, heads }: DenseOutputs,
    prepared: Omit<PreparedImage, 'input'>,
    sink?: DetectionSink,
  ): Promise<DetectorOutput> {
    for (const [i, map] of maps.entries())
      sink?.(`neck.${i}`, map.data, [1, map.height, map.width, map.channels]);
    const prefix = this.bbox_head ? 'retina' : 'rpn';
    for (const [level, head] of heads.entries()) {
      sink?.(`${prefix}.cls.${level}`, head.logits, head.clsShape);
      sink?.(`${prefix}.reg.${level}`, head.deltas, head.regShape);
    }
    const { imageShape, scaleFactor, originalShape } = prepared;
    if (this.bbox_head) {
      const retina = this.config.retina!;
      const anchors = levelAnchors(
        retina.anchors,
        maps.map((m) => [m.height, m.width]),
      );
      const { boxes, scores } = retinaCandidates(heads, anchors, this.config.numClasses, retina, imageShape);
      return {
        ...multiclassNms(rescale(boxes, scaleFactor), scores, this.config.numClasses, retina.test),
        masks: null,
      };
    }
    const rpn = this.config.rpn!;
    const anchors = levelAnchors(
      rpn.anchors,
      maps.map((m) => [m.height, m.width]),
    );
    const proposals = selectProposals(heads, anchors, rpn, imageShape);
    sink?.('rpn.proposals', withScores(proposals.boxes, proposals.scores), [proposals.scores.length, 5]);
    const detections = await this.detectBoxes(maps, proposals.boxes, imageShape, scaleFactor, sink);
    const masks = this.roi_head!.mask_head
      ? await this.segment(maps, detections, scaleFactor, originalShape, sink)
      : null;
    return { ...detections, masks };
  }

  /** Box head on the proposals, decoding, rescaling to the original image, multiclass NMS. */
  private async detectBoxes(
    maps: FeatureMap[],
    proposals: Float32Array,
    imageShape: [number, number],
    scaleFactor: readonly number[],
    sink?: DetectionSink,
  ): Promise<RawDetections> {
    const roi = this.config.roi!;
    const numClasses = this.config.numClasses;
    const n = proposals.length / 4;
    const channels = maps[0].channels;
    if (n === 0) return { boxes: new Float32Array(), scores: new Float32Array(), labels: new Int32Array() };
    const { features, levels } = extractRoiFeatures(
      maps.slice(0, roi.featmapStrides.length),
      roi.featmapStrides,
      proposals,
      7,
      roi.finestScale,
    );
    sink?.('roi.levels', levels, [n]);
    sink?.('roi.feats', features, [n, 7, 7, channels]);
    const { logits, deltas } = this.networkEngine?.boxHead
      ? await this.networkEngine.boxHead(features, n)
      : this.boxHeadTfjs(features, n, channels);
    const probabilities = tf.tidy(
      () => tf.softmax(tf.tensor2d(logits, [n, numClasses + 1])).dataSync() as Float32Array,
    );
    sink?.('bbox.cls_score', logits, [n, numClasses + 1]);
    sink?.('bbox.bbox_pred', deltas, [n, numClasses * 4]);
    const boxes = rescale(decodeDeltas(proposals, deltas, roi.stds, imageShape), scaleFactor);
    const scores = dropBackground(probabilities, numClasses);
    return multiclassNms(boxes, scores, numClasses, roi.test);
  }

  private boxHeadTfjs(features: Float32Array, n: number, channels: number): BoxHeadOutput {
    const outputs = tf.tidy(() => {
      const { cls, reg } = this.roi_head!.bbox_head.forward(tf.tensor4d(features, [n, 7, 7, channels]));
      return [cls, reg];
    });
    const [logits, deltas] = outputs.map((t) => t.dataSync() as Float32Array);
    tf.dispose(outputs);
    return { logits, deltas };
  }

  private maskHeadTfjs(features: Float32Array, k: number, channels: number): Float32Array {
    const logits = tf.tidy(() =>
      this.roi_head!.mask_head!.forward(tf.tensor4d(features, [k, 14, 14, channels])),
    );
    const data = logits.dataSync() as Float32Array;
    logits.dispose();
    return data;
  }

  /** Mask head on the detected boxes (in resized-image pixels), pasted at the original image's resolution. */
  private async segment(
    maps: FeatureMap[],
    detections: RawDetections,
    scaleFactor: readonly number[],
    originalShape: [number, number],
    sink?: DetectionSink,
  ): Promise<BinaryMask[]> {
    const roi = this.config.roi!;
    const maskHead = this.roi_head!.mask_head!;
    const k = detections.scores.length;
    if (k === 0) return [];
    const boxes = detections.boxes.map((v, i) => Math.fround(v * scaleFactor[i % 4]));
    const channels = maps[0].channels;
    const strides = roi.featmapStrides;
    const { features } = extractRoiFeatures(
      maps.slice(0, strides.length),
      strides,
      boxes,
      14,
      roi.finestScale,
    );
    const logits = this.networkEngine?.maskHead
      ? await this.networkEngine.maskHead(features, k)
      : this.maskHeadTfjs(features, k, channels);
    // FCNMaskHead: 14x14 RoI features, one 2x upsampling.
    const size = 28;
    const classes = maskHead.numClasses;
    const selected = new Float32Array(k * size * size);
    for (let i = 0; i < k; i++) {
      for (let p = 0; p < size * size; p++)
        selected[i * size * size + p] = logits[(i * size * size + p) * classes + detections.labels[i]];
    }
    sink?.('mask.pred', selected, [k, size, size]);
    const [height, width] = originalShape;
    return Array.from({ length: k }, (_, i) => {
      const probabilities = Float32Array.from(
        selected.subarray(i * size * size, (i + 1) * size * size),
        sigmoid,
      );
      const box = rescale(boxes.subarray(4 * i, 4 * i + 4), scaleFactor);
      return pasteMask(probabilities, size, box, height, width, roi.mask!.maskThrBinary);
    });
  }
}

function numbered(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `class${i}`);
}

/** NHWC data of a [1, H, W, C] tensor. */
function featureMap(level: tf.Tensor4D): FeatureMap {
  const [, height, width, channels] = level.shape;
  return { data: level.dataSync() as Float32Array, height, width, channels };
}

/** Boxes [n * 4k] divided by mmdet's [w, h, w, h] scale factor (float32), i.e. mapped to the original image. */
function rescale(boxes: Float32Array, scaleFactor: readonly number[]): Float32Array {
  return boxes.map((v, i) => Math.fround(v / scaleFactor[i % 4]));
}

function withScores(boxes: Float32Array, scores: Float32Array): Float32Array {
  const out = new Float32Array(scores.length * 5);
  scores.forEach((s, i) => {
    out.set(boxes.subarray(4 * i, 4 * i + 4), 5 * i);
    out[5 * i + 4] = s;
  });
  return out;
}

/** Softmax scores [n, classes + 1] without the background (last) column. */
function dropBackground(probabilities: Float32Array, numClasses: number): Float32Array {
  const n = probabilities.length / (numClasses + 1);
  const out = new Float32Array(n * numClasses);
  for (let i = 0; i < n; i++)
    out.set(probabilities.subarray(i * (numClasses + 1), i * (numClasses + 1) + numClasses), i * numClasses);
  return out;
}
