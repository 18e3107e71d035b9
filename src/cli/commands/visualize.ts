/**
 * `rla visualize <image> --weights F`: PNGs of what an RLA model computes on one image (input, per-stage mean |x|
 * and h channels, Grad-CAM on cat(x, h)); `rla visualize --sharing-norms --weights F`: the L1 norm of a
 * weight-shared DenseNet's 1x1 weights by lag (the paper's Figure 2).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModelFile } from '../../checkpoint/model-file.js';
import { decodeImage } from '../../data/decode.js';
import { imagenetPreprocessing, writeNormalized } from '../../data/preprocessing.js';
import { evaluationPipeline, toNativeGeometry } from '../../data/sample-pipeline.js';
import { applyTransforms } from '../../data/transforms.js';
import { initBackend } from '../../engine/backend.js';
import type { ClassifierModel } from '../../models/classifier.js';
import { Rng } from '../../nn/init.js';
import { isOnnxFile } from '../../onnx/session.js';
import { encodePng } from '../../render/png.js';
import { lineChartPng } from '../../train/plot-png.js';
import { lineChartSvg } from '../../train/plot-svg.js';
import { trainedModelInfo } from '../../train/trained-model-info.js';
import { sharingNorms, sharingNormsChart } from '../../visualize/sharing-norms.js';
import { visualizeImage } from '../../visualize/visualize-image.js';
import { BACKEND_OPTION, backendOption, integerOption, parseCommandArgs, UsageError } from '../args.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelOptionsFrom } from '../model-args.js';
import {
  checkLoadedWeights,
  WEIGHTS_OPTIONS,
  WEIGHTS_OPTIONS_HELP,
  weightsChoicesFrom,
  weightsFileFrom,
} from '../weights-args.js';

/** `rla visualize --help`. */
export const VISUALIZE_USAGE = `usage: rla visualize <image> --weights FILE [-o DIR] [--class N] [options]
       rla visualize --sharing-norms --weights FILE [-o DIR]
  Writes PNGs into DIR (default ./visualize):
    input.png            the image as the model sees it (resized and cropped like its evaluation data)
    stageS_x.png         stage S's main path: mean over channels of |x| (viridis, normalised to its range)
    stageS_h.png         stage S's RLA hidden state h: one tile per channel, each normalised on its own
    gradcam.png          Grad-CAM of the predicted class (or --class N) on cat(x, h) of the last stage, over
                         the input
  --sharing-norms        instead: sharing_norms.png/.svg, the L1 norm of a CIFAR DenseNet's 1x1 weights that read
                         x^l (l >= 1) by lag (Shared-Lag, the paper's Figure 2), by source (Shared-Ordinal), or by
                         lag averaged over layers (DenseNet-BC)
  --weights FILE         .safetensors (from rla train/convert) or an official .pth / .pth.tar
  --class N              class index Grad-CAM explains (default: the top class)
${MODEL_OPTIONS_HELP}
${WEIGHTS_OPTIONS_HELP}
  --backend B            auto | wasm | cpu | tensorflow`;

/** Writes each picture as DIR/<stem>.png; returns the paths. */
async function writePictures(dir: string, pictures: Iterable<[string, Uint8Array]>): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, bytes] of pictures) {
    const path = join(dir, name);
    await writeFile(path, bytes);
    written.push(path);
  }
  return written;
}

async function visualizeImageCommand(
  model: ClassifierModel,
  info: Record<string, string | number>,
  weights: string,
  imagePath: string,
  values: Record<string, unknown>,
  dir: string,
  out: (line: string) => void,
): Promise<void> {
  const stored = trainedModelInfo(info, weights);
  const preprocessing = stored.preprocessing ?? imagenetPreprocessing();
  const spec = evaluationPipeline(preprocessing);
  model.checkInputSize(spec.size, spec.size);
  const bytes = await readFile(imagePath).catch((error: Error) => {
    throw new UsageError(`cannot read image ${imagePath}: ${error.message}`);
  });
  const decoded = decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), imagePath);
  // The evaluation transforms are deterministic: the seed does not matter.
  const input = applyTransforms(toNativeGeometry(decoded, preprocessing.native), spec.ops, new Rng(0));
  if (input.height !== spec.size || input.width !== spec.size) {
    throw new Error(
      `${imagePath}: preprocessing produced ${input.height}x${input.width}, expected ${spec.size}`,
    );
  }
  const data = new Float32Array(spec.size * spec.size * 3);
  writeNormalized(input, spec.mean, spec.std, data, 0);
  const classOption = integerOption('class', values.class, { min: 0 });
  const x = tf.tensor4d(data, [1, spec.size, spec.size, 3]);
  try {
    const result = visualizeImage(model, x, input, classOption);
    const written = await writePictures(
      dir,
      [...result.pictures].map(([stem, picture]) => [`${stem}.png`, encodePng(picture)]),
    );
    const { classIndex, logits } = result.gradCam;
    const max = Math.max(...logits);
    const sum = logits.reduce((s, v) => s + Math.exp(v - max), 0);
    const name = stored.classNames?.[classIndex] ?? `class ${classIndex}`;
    out(
      `${basename(imagePath)}: Grad-CAM of ${name} (${classIndex}), probability ${((100 * Math.exp(logits[classIndex] - max)) / sum).toFixed(2)}%`,
    );
    out(`written: ${written.join(', ')}`);
  } finally {
    x.dispose();
  }
}

async function sharingNormsCommand(
  model: ClassifierModel,
  weights: string,
  dir: string,
  out: (line: string) => void,
): Promise<void> {
  const norms = sharingNorms(model);
  const chart = sharingNormsChart(norms, basename(weights));
  const written = await writePictures(dir, [
    ['sharing_norms.png', lineChartPng(chart)],
    ['sharing_norms.svg', new TextEncoder().encode(lineChartSvg(chart))],
  ]);
  out(`${norms.sharing} sharing, L1 norm by ${norms.axis}:`);
  for (const block of norms.blocks)
    out(`  ${block.block}: ${block.l1.map((v, i) => `${block.positions[i]}:${v.toPrecision(4)}`).join(' ')}`);
  out(`written: ${written.join(', ')}`);
}

/** Runs `rla visualize`; returns the exit code. */
export async function visualizeCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      weights: { type: 'string' },
      output: { type: 'string', short: 'o' },
      class: { type: 'string' },
      'sharing-norms': { type: 'boolean' },
      ...MODEL_OPTIONS,
      ...WEIGHTS_OPTIONS,
      ...BACKEND_OPTION,
    },
    VISUALIZE_USAGE,
  );
  if (values.help) {
    out(VISUALIZE_USAGE);
    return 0;
  }
  const sharing = values['sharing-norms'] === true;
  if (values.weights === undefined) throw new UsageError(`need --weights\n\n${VISUALIZE_USAGE}`);
  if (sharing ? positionals.length > 0 : positionals.length !== 1) {
    throw new UsageError(
      `${sharing ? '--sharing-norms takes no image' : 'give exactly one image'}\n\n${VISUALIZE_USAGE}`,
    );
  }
  const weights = await weightsFileFrom(values);
  if (isOnnxFile(weights)) {
    throw new UsageError(
      `${weights}: visualize needs a weights file (.safetensors, .pth), not an ONNX graph: Grad-CAM differentiates the TF.js model`,
    );
  }
  await initBackend({ backend: backendOption(values.backend) });
  const { model: name, options } = modelOptionsFrom(values);
  const choices = weightsChoicesFrom(values);
  const { model, report } = await loadModelFile(weights, {
    model: name,
    options,
    maxInflatedBytes: choices.maxInflatedBytes,
  });
  try {
    checkLoadedWeights(model, weights, choices);
    model.eval();
    const dir = values.output === undefined ? 'visualize' : String(values.output);
    if (sharing) await sharingNormsCommand(model, weights, dir, out);
    else await visualizeImageCommand(model, report.source.info, weights, positionals[0], values, dir, out);
  } finally {
    model.dispose();
  }
  return 0;
}
