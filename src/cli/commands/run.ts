/**
 * `rla run`: the cross-framework verification tool. Reads tensor `input` (NCHW float32) from a safetensors file,
 * runs the model in eval mode and writes `logits` (and with --intermediates every named intermediate, NCHW, under
 * the official fixtures' names) to a safetensors file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadModelFile } from '../../checkpoint/model-file.js';
import { initBackend } from '../../engine/backend.js';
import type { ClassifierModel } from '../../models/classifier.js';
import { runWithOnnxRuntime } from '../../onnx/session.js';
import { formatShape, truncateText } from '../../util/bounded-text.js';
import { readFileBytes, writeFileAtomic } from '../../weights/files-node.js';
import {
  readSafetensors,
  type SafetensorsTensor,
  safetensorToFloat32Array,
  writeSafetensors,
} from '../../weights/safetensors.js';
import { BACKEND_OPTION, backendOption, parseCommandArgs, UsageError } from '../args.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelOptionsFrom } from '../model-args.js';
import {
  checkLoadedWeights,
  WEIGHTS_OPTIONS,
  WEIGHTS_OPTIONS_HELP,
  weightsChoicesFrom,
  weightsFileFrom,
} from '../weights-args.js';

export const RUN_USAGE = `usage: rla run --weights <file> --input <in.safetensors> -o <out.safetensors> [options]
  --weights FILE      .pth / .pth.tar / .safetensors
  --input FILE        safetensors with a float32 tensor "input" [N, 3, H, W] (NCHW, like PyTorch)
  -o, --output FILE   safetensors to write: "logits" [N, classes] (+ intermediates, NCHW)
  --intermediates     also write stem.x, stageS.x, stageS.h, ..., head.features
  --backend B         auto | wasm | cpu | tensorflow
  --engine E          tfjs (default) | ort: export to ONNX in memory and run it with ONNX Runtime
${MODEL_OPTIONS_HELP}
${WEIGHTS_OPTIONS_HELP}`;

/** NHWC -> NCHW for 4-D tensors; others unchanged. Returns data + shape for writing. */
function toTorchLayoutData(tensor: tf.Tensor): { shape: number[]; data: Float32Array } {
  const nchw = tensor.rank === 4 ? tf.transpose(tensor, [0, 3, 1, 2]) : tensor;
  const result = { shape: nchw.shape, data: nchw.dataSync() as Float32Array };
  if (nchw !== tensor) nchw.dispose();
  return result;
}

/** Runs the model with TF.js; outputs in NCHW as safetensors entries. */
function tfjsEntries(model: ClassifierModel, input: SafetensorsTensor, intermediates: boolean) {
  const outputs = tf.tidy(() => {
    const nchw = tf.tensor4d(
      safetensorToFloat32Array(input),
      input.shape as [number, number, number, number],
    );
    const x = tf.transpose(nchw, [0, 2, 3, 1]) as tf.Tensor4D;
    return intermediates ? model.forwardIntermediates(x) : { logits: model.forward(x) };
  });
  const entries = Object.entries(outputs).map(([key, tensor]) => {
    const { shape, data } = toTorchLayoutData(tensor);
    return [key, { dtype: 'F32' as const, shape, data }] as const;
  });
  tf.dispose(Object.values(outputs));
  return entries;
}

/** Runs the model's ONNX export with ONNX Runtime; its outputs are NCHW already. */
async function ortEntries(model: ClassifierModel, input: SafetensorsTensor, intermediates: boolean) {
  const outputs = await runWithOnnxRuntime(model, safetensorToFloat32Array(input), input.shape, {
    intermediates,
  });
  return Object.entries(outputs).map(
    ([key, { shape, data }]) => [key, { dtype: 'F32' as const, shape, data }] as const,
  );
}

export async function runCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      weights: { type: 'string' },
      input: { type: 'string' },
      output: { type: 'string', short: 'o' },
      intermediates: { type: 'boolean' },
      engine: { type: 'string' },
      ...MODEL_OPTIONS,
      ...WEIGHTS_OPTIONS,
      ...BACKEND_OPTION,
    },
    RUN_USAGE,
  );
  if (values.help) {
    out(RUN_USAGE);
    return 0;
  }
  if (!values.weights || !values.input || !values.output) {
    throw new UsageError(`--weights, --input and -o are required\n\n${RUN_USAGE}`);
  }
  if (values.engine !== undefined && values.engine !== 'tfjs' && values.engine !== 'ort') {
    throw new UsageError(`--engine ${values.engine}: choose tfjs or ort`);
  }
  const inputFile = readSafetensors(await readFileBytes(String(values.input)), String(values.input));
  const input = inputFile.tensors.get('input');
  if (!input)
    throw new UsageError(
      `${values.input}: no tensor named "input" (found ${truncateText([...inputFile.tensors.keys()].join(', '))})`,
    );
  if (input.shape.length !== 4 || input.shape[1] !== 3 || input.shape[0] === 0) {
    throw new UsageError(
      `${values.input}: "input" must be NCHW [N, 3, H, W] with N >= 1, got ${formatShape(input.shape)}`,
    );
  }
  const backend = await initBackend({ backend: backendOption(values.backend) });
  const { model: name, options } = modelOptionsFrom(values);
  const choices = weightsChoicesFrom(values);
  const { model, chosenBy } = await loadModelFile(await weightsFileFrom(values), {
    model: name,
    options,
    maxInflatedBytes: choices.maxInflatedBytes,
  });
  try {
    checkLoadedWeights(model, String(values.weights), choices);
    model.eval();
    const engine = values.engine === 'ort' ? 'onnxruntime' : backend;
    const entries =
      values.engine === 'ort'
        ? await ortEntries(model, input, values.intermediates === true)
        : tfjsEntries(model, input, values.intermediates === true);
    await writeFileAtomic(
      String(values.output),
      writeSafetensors(entries, { model: model.registryName ?? '', backend: engine, layout: 'NCHW' }),
    );
    out(
      `${model.registryName} (${chosenBy}) on ${engine}: wrote ${entries.map(([k]) => k).join(', ')} to ${values.output}`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}
