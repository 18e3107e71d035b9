/**
 * What makes an exported model self-describing: ONNX metadata (rla-net's exact `preprocessing` and `classes`, as
 * `rla predict` / `loadClassifier` read them, plus plain `mean`, `std`, `input_size`, `crop_pct`,
 * `interpolation` for other runtimes) and Hugging Face style `config.json` + `preprocessor_config.json` (the
 * ConvNext image processor's fields: resize the shorter side to `shortest_edge / crop_pct`, center crop
 * `shortest_edge`, rescale 1/255, normalize; what transformers.js reads).
 */
import type { Preprocessing } from '../data/preprocessing.js';
import type { InferenceSetup } from './classifier.js';

/** PIL's BILINEAR resampling code, as Hugging Face image processors spell `resample`. */
const PIL_BILINEAR = 2;

/** The resize side and crop of an evaluation pipeline of the form [resize R, centerCrop S], or none at all. */
function resizeAndCrop(preprocessing: Preprocessing): { resize: number; crop: number } | null {
  const ops = preprocessing.eval;
  if (ops.length === 0) return { resize: preprocessing.size, crop: preprocessing.size };
  const [resize, crop] = ops;
  if (ops.length === 2 && resize.op === 'resize' && crop.op === 'centerCrop')
    return { resize: resize.size, crop: crop.size };
  return null;
}

/** ONNX metadata entries describing inputs and outputs (merged into the export's `metadata_props`). */
export function exportMetadata(
  setup: Pick<InferenceSetup, 'preprocessing' | 'labels'>,
  dataset?: string,
): Record<string, string> {
  const { preprocessing, labels } = setup;
  const metadata: Record<string, string> = {
    preprocessing: JSON.stringify(preprocessing),
    classes: JSON.stringify(labels),
    mean: JSON.stringify(preprocessing.mean),
    std: JSON.stringify(preprocessing.std),
    input_size: JSON.stringify([3, preprocessing.size, preprocessing.size]),
    layout: 'NCHW float32, RGB, (pixel / 255 - mean) / std',
  };
  const geometry = resizeAndCrop(preprocessing);
  if (geometry) {
    metadata.crop_pct = String(geometry.crop / geometry.resize);
    metadata.interpolation = 'bilinear';
  }
  if (dataset) metadata.dataset = dataset;
  return metadata;
}

/**
 * `config.json` and `preprocessor_config.json` for a model directory. The preprocessor's resize/crop fields are
 * those of a plain resize + center crop; for other pipelines `do_resize` is false and `rla_preprocessing` holds the
 * exact one (e.g. Fashion-MNIST's gray 28x28 + pad 2), which only rla-net applies.
 */
export function huggingFaceConfigs(
  setup: Pick<InferenceSetup, 'preprocessing' | 'labels'>,
  model: { name: string; options: object; numClasses: number },
): { config: object; preprocessorConfig: object } {
  const { preprocessing, labels } = setup;
  const id2label = Object.fromEntries(labels.map((label, i) => [String(i), label]));
  const label2id = Object.fromEntries(labels.map((label, i) => [label, i]));
  const config = {
    architectures: [model.name],
    model_type: 'rla-net',
    rla_model: model.name,
    rla_options: model.options,
    num_labels: model.numClasses,
    num_channels: 3,
    image_size: preprocessing.size,
    id2label,
    label2id,
  };
  const geometry = resizeAndCrop(preprocessing);
  const native = preprocessing.native;
  const plain = geometry !== null && (native === null || native.channels === 3);
  const preprocessorConfig = {
    image_processor_type: 'ConvNextImageProcessor',
    do_resize: plain && preprocessing.eval.length > 0,
    size: { shortest_edge: preprocessing.size },
    crop_pct: geometry ? geometry.crop / geometry.resize : 1,
    resample: PIL_BILINEAR,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: preprocessing.mean,
    image_std: preprocessing.std,
    rla_preprocessing: preprocessing,
  };
  return { config, preprocessorConfig };
}
