/**
 * `loadClassifier(nameOrBytes, options)` -> a {@link Classifier}: images in, labelled top-k out, prepared exactly
 * as the weights expect (the preprocessing a trained file stores, else its registry entry's pretrained config:
 * for ImageNet models resize 256, center crop 224, ImageNet mean/std). As tfjs-models' `classify`, plus timm's
 * `featuresOnly` / `outIndices` / `featureInfo` (with the RLA hidden state h per stage). Browser-safe; the Node
 * entry's loader (classify/load-node.ts) adds file paths, `.onnx` files and the ONNX Runtime engine.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type LoadModelOptions, loadModelBytes } from '../checkpoint/model-bytes.js';
import { LABEL_SETS } from '../data/class-names.js';
import { imagenetPreprocessing, type Preprocessing } from '../data/preprocessing.js';
import { evaluationPipeline, prepareSample, toNativeGeometry } from '../data/sample-pipeline.js';
import { ClassifierModel } from '../models/classifier.js';
import { createModel, getModelEntry } from '../models/index.js';
import { configPreprocessing, type PretrainedConfig, pretrainedConfig } from '../models/pretrained.js';
import { trainedModelInfo } from '../train/trained-model-info.js';
import { type ImageInput, type ImageReaders, toRawImage } from './image-input.js';

/** What computes the logits: TF.js (any backend) or ONNX Runtime (Node entry). */
export type ClassifierEngine = 'tfjs' | 'ort';

/** One ranked class. */
export interface Prediction {
  label: string;
  index: number;
  /** Softmax probability. */
  score: number;
}

/** One feature level (a stage), as timm's `feature_info`. */
export interface FeatureInfo {
  /** 0-based stage index (what `outIndices` selects); the stem is not a feature level. */
  index: number;
  /** Intermediate name, `stage1` ... */
  name: string;
  /** Channels of the stage's output x. */
  channels: number;
  /** Input side / feature side (4, 8, 16, 32 for the ResNets). */
  reduction: number;
  /** Channels of the RLA hidden state h at this stage (null for models without one). */
  hChannels: number | null;
}

/** A stage's feature maps (NHWC); the caller disposes them. */
export interface StageFeatures {
  x: tf.Tensor4D;
  h: tf.Tensor4D | null;
}

/** Computes logits of prepared NHWC batches. */
export interface LogitsRunner {
  readonly engine: ClassifierEngine;
  /** Logits [N, numClasses] (row-major) of NHWC float32 values of `shape`. */
  logits(x: Float32Array, shape: [number, number, number, number]): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface ClassifierOptions extends ImageReaders {
  /** Only the backbone is used (timm's `features_only`): `features` works, `classify` / `embed` refuse. */
  featuresOnly?: boolean;
  /** Stages `features` returns, 0-based (default: all). */
  outIndices?: readonly number[];
  /** Preprocessing to use instead of the file's or the pretrained config's. */
  preprocessing?: Preprocessing;
  /** Class names to use instead of the file's or the pretrained config's. */
  labels?: readonly string[];
}

export interface LoadClassifierOptions extends ClassifierOptions, Omit<LoadModelOptions, 'fileName'> {
  /** Engine computing the logits (default `tfjs`; `ort` needs rla-net/node). */
  engine?: ClassifierEngine;
}

/** What a classifier is made of: the TF.js model when there is one, the logits runner, the file's metadata. */
export interface ClassifierParts {
  /** The TF.js model (null for an `.onnx` file); needed by `embed`, `features`, `featureInfo`. */
  model: ClassifierModel | null;
  runner: LogitsRunner;
  numClasses: number;
  /** Registry name of the architecture, when known. */
  modelName: string | null;
  /** Metadata of the weights file (a trained file's `preprocessing`, `classes`, ...). */
  metadata: Record<string, string | number>;
  /** Name of the weights in errors. */
  source: string;
  /** Whether disposing the classifier disposes `model` (false when the caller handed the model in). */
  ownsModel: boolean;
}

/** Logits of a TF.js model (any backend). */
export function tfjsRunner(model: ClassifierModel): LogitsRunner {
  return {
    engine: 'tfjs',
    logits: async (x, shape) => {
      const logits = tf.tidy(() => model.forward(tf.tensor4d(x, shape)));
      try {
        return (await logits.data()) as Float32Array;
      } finally {
        logits.dispose();
      }
    },
    release: async () => {},
  };
}

/** Probabilities of logits (max subtracted first, so large logits do not overflow). */
export function softmax(logits: Float32Array): Float32Array {
  const max = logits.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  const exps = logits.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

/** Registry name of a known architecture, or null. */
function knownModelName(name: string | null | undefined): string | null {
  if (!name) return null;
  try {
    return getModelEntry(name).name;
  } catch {
    return null;
  }
}

/** How a model's inputs are prepared and its outputs named. */
export interface InferenceSetup {
  /** The registry entry's pretrained configuration (null when the architecture is not a registry model). */
  pretrainedConfig: PretrainedConfig | null;
  preprocessing: Preprocessing;
  /** Class names, index = logit index. */
  labels: readonly string[];
}

/**
 * The preprocessing and class names of a model: given ones first, then what its weights file stores (files from
 * `rla train`), then its registry entry's pretrained config (labels only when the class counts agree), then the
 * ImageNet evaluation pipeline and `class <i>`.
 */
export function resolveInference(
  parts: Pick<ClassifierParts, 'metadata' | 'source' | 'modelName' | 'numClasses'>,
  given: Pick<ClassifierOptions, 'preprocessing' | 'labels'> = {},
): InferenceSetup {
  const stored = trainedModelInfo(parts.metadata, parts.source);
  const name = knownModelName(parts.modelName);
  const config = name ? pretrainedConfig(name) : null;
  const preprocessing =
    given.preprocessing ??
    stored.preprocessing ??
    (config ? configPreprocessing(config) : imagenetPreprocessing());
  const configLabels = config ? LABEL_SETS[config.labelSet] : null;
  const labels =
    given.labels ??
    stored.classNames ??
    (configLabels?.length === parts.numClasses
      ? configLabels
      : Array.from({ length: parts.numClasses }, (_, i) => `class ${i}`));
  if (labels.length !== parts.numClasses)
    throw new Error(`${parts.source}: ${labels.length} labels for ${parts.numClasses} classes`);
  return { pretrainedConfig: config, preprocessing, labels };
}

/** A model ready to classify images, whatever engine runs it. */
export class Classifier {
  /** The registry entry's pretrained configuration (null when the architecture is not a registry model). */
  readonly pretrainedConfig: PretrainedConfig | null;
  /** How images are prepared (the file's stored preprocessing, else the pretrained config's). */
  readonly preprocessing: Preprocessing;
  /** Class names, index = logit index. */
  readonly labels: readonly string[];
  readonly model: ClassifierModel | null;
  readonly numClasses: number;
  readonly engine: ClassifierEngine;
  private readonly runner: LogitsRunner;
  private readonly readers: ImageReaders;
  private readonly options: ClassifierOptions;
  private readonly ownsModel: boolean;
  private cachedFeatureInfo: FeatureInfo[] | null = null;

  constructor(parts: ClassifierParts, options: ClassifierOptions = {}) {
    const resolved = resolveInference(parts, options);
    this.pretrainedConfig = resolved.pretrainedConfig;
    this.preprocessing = resolved.preprocessing;
    this.labels = resolved.labels;
    this.model = parts.model;
    this.numClasses = parts.numClasses;
    this.engine = parts.runner.engine;
    this.runner = parts.runner;
    this.readers = { decode: options.decode, readFile: options.readFile };
    this.options = options;
    this.ownsModel = parts.ownsModel;
    this.model?.checkInputSize(this.preprocessing.size, this.preprocessing.size);
    if (options.featuresOnly && this.model === null)
      throw new Error(`${parts.source}: featuresOnly needs the TF.js model (weights, not an .onnx file)`);
  }

  /** Side of the square model input. */
  get inputSize(): number {
    return this.preprocessing.size;
  }

  /** `input` prepared as the model expects: NHWC float32 values of one image [1, size, size, 3]. */
  async prepare(input: ImageInput, source = 'image'): Promise<Float32Array> {
    const image = toNativeGeometry(await toRawImage(input, this.readers, source), this.preprocessing.native);
    const spec = evaluationPipeline(this.preprocessing);
    const x = new Float32Array(spec.size * spec.size * 3);
    prepareSample(image, 0, spec, x, 0, typeof input === 'string' ? input : source);
    return x;
  }

  /** Logits of one image. */
  async logits(input: ImageInput): Promise<Float32Array> {
    this.checkHead('logits');
    const size = this.inputSize;
    return this.runner.logits(await this.prepare(input), [1, size, size, 3]);
  }

  /** The `topk` most probable classes of one image (softmax scores), best first. */
  async classify(input: ImageInput, { topk = 5 }: { topk?: number } = {}): Promise<Prediction[]> {
    if (!Number.isInteger(topk) || topk < 1) throw new Error(`topk must be a positive integer, got ${topk}`);
    const probabilities = softmax(await this.logits(input));
    return Array.from(probabilities, (score, index) => ({ index, score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, Math.min(topk, this.numClasses))
      .map(({ index, score }) => ({ label: this.labels[index], index, score }));
  }

  /** The pooled features the head classifies (`head.features`: [x; h] pooled for RLA models) of one image. */
  async embed(input: ImageInput): Promise<Float32Array> {
    this.checkHead('embed');
    const model = this.tfjsModel('embed');
    const size = this.inputSize;
    const x = await this.prepare(input);
    const features = tf.tidy(() => {
      const all = model.forwardIntermediates(tf.tensor4d(x, [1, size, size, 3]));
      const pooled = all['head.features'];
      if (!pooled) throw new Error(`${model.registryName ?? 'model'} has no head.features intermediate`);
      return tf.keep(pooled);
    });
    try {
      return (await features.data()) as Float32Array;
    } finally {
      features.dispose();
    }
  }

  /** Per-stage feature maps x and h of one image, for the stages of `outIndices` (NHWC; the caller disposes). */
  async features(input: ImageInput): Promise<StageFeatures[]> {
    const model = this.tfjsModel('features');
    const size = this.inputSize;
    const x = await this.prepare(input);
    const stages = stagesOf(model, x, size);
    let wanted: number[];
    try {
      wanted = this.outIndices(stages.length);
    } catch (error) {
      disposeStages(stages);
      throw error;
    }
    const selected = wanted.map((i) => stages[i]);
    disposeStages(stages.filter((_, i) => !wanted.includes(i)));
    return selected;
  }

  /** Channels and reduction of each stage `features` returns (timm's `feature_info`, with h). */
  featureInfo(): FeatureInfo[] {
    const model = this.tfjsModel('featureInfo');
    if (this.cachedFeatureInfo === null) {
      const size = this.inputSize;
      const stages = stagesOf(model, null, size);
      const info = stages.map((stage) => ({ x: stage.x.shape, h: stage.h?.shape ?? null }));
      disposeStages(stages);
      this.cachedFeatureInfo = info.map((shapes, index) => ({
        index,
        name: `stage${index + 1}`,
        channels: shapes.x[3],
        reduction: size / shapes.x[1],
        hChannels: shapes.h ? shapes.h[3] : null,
      }));
    }
    const wanted = this.outIndices(this.cachedFeatureInfo.length);
    return this.cachedFeatureInfo.filter((stage) => wanted.includes(stage.index));
  }

  /** Frees the engine's session and the model (unless the caller handed the model in). */
  async dispose(): Promise<void> {
    await this.runner.release();
    if (this.ownsModel) this.model?.dispose();
  }

  /** The stages `outIndices` selects among `stageCount` (all by default), checked. */
  private outIndices(stageCount: number): number[] {
    const wanted = this.options.outIndices ?? Array.from({ length: stageCount }, (_, i) => i);
    for (const i of wanted) {
      if (!Number.isInteger(i) || i < 0 || i >= stageCount)
        throw new Error(`outIndices: ${i} is not a stage index 0..${stageCount - 1}`);
    }
    return [...wanted];
  }

  private tfjsModel(what: string): ClassifierModel {
    if (this.model === null)
      throw new Error(`${what} needs the TF.js model: load weights (.pth/.safetensors), not an .onnx file`);
    return this.model;
  }

  private checkHead(what: string): void {
    if (this.options.featuresOnly) throw new Error(`${what}: this classifier was loaded with featuresOnly`);
  }
}

/** Per-stage outputs of one prepared image (`x`; zeros when null) of side `size`. */
function stagesOf(model: ClassifierModel, x: Float32Array | null, size: number): StageFeatures[] {
  const input = x ? tf.tensor4d(x, [1, size, size, 3]) : tf.zeros<tf.Rank.R4>([1, size, size, 3]);
  try {
    return model.forwardStages(input);
  } finally {
    input.dispose();
  }
}

function disposeStages(stages: readonly StageFeatures[]): void {
  tf.dispose(stages.flatMap((s) => (s.h ? [s.x, s.h] : [s.x])));
}

/** The classifier of a TF.js model: built from a registry name, weights bytes, or a model the caller made. */
export function modelClassifierParts(
  nameOrBytesOrModel: string | Uint8Array | ArrayBuffer | ClassifierModel,
  options: Omit<LoadModelOptions, 'fileName'> & { fileName?: string },
): { model: ClassifierModel; metadata: Record<string, string | number>; source: string; ownsModel: boolean } {
  if (nameOrBytesOrModel instanceof ClassifierModel)
    return { model: nameOrBytesOrModel, metadata: {}, source: 'model', ownsModel: false };
  if (typeof nameOrBytesOrModel === 'string') {
    // A registry name, as timm's create_model(name): the architecture with freshly initialised weights.
    const model = createModel(nameOrBytesOrModel, options.options);
    return { model, metadata: {}, source: nameOrBytesOrModel, ownsModel: true };
  }
  const bytes =
    nameOrBytesOrModel instanceof ArrayBuffer ? new Uint8Array(nameOrBytesOrModel) : nameOrBytesOrModel;
  const loaded = loadModelBytes(bytes, options);
  return {
    model: loaded.model,
    metadata: loaded.report.source.info,
    source: options.fileName ?? 'weights',
    ownsModel: true,
  };
}

/**
 * A classifier from a registry name (fresh weights), the bytes of a weights file (`.pth`, `.pth.tar`,
 * `.safetensors`), or a model. Runs on TF.js (whichever backend `initBackend` chose); the model is in eval mode.
 */
export async function loadClassifier(
  nameOrBytesOrModel: string | Uint8Array | ArrayBuffer | ClassifierModel,
  options: LoadClassifierOptions = {},
): Promise<Classifier> {
  if ((options.engine ?? 'tfjs') !== 'tfjs')
    throw new Error(
      `engine "${options.engine}" needs rla-net/node (onnxruntime-node); in browsers run an exported .onnx file ` +
        'with onnxruntime-web',
    );
  const parts = modelClassifierParts(nameOrBytesOrModel, options);
  parts.model.eval();
  try {
    return new Classifier(
      {
        ...parts,
        runner: tfjsRunner(parts.model),
        numClasses: parts.model.numClasses,
        modelName: parts.model.registryName ?? null,
      },
      options,
    );
  } catch (error) {
    if (parts.ownsModel) parts.model.dispose();
    throw error;
  }
}
