/**
 * `rla quantize`: static post-training int8 quantization of a weights file into a QDQ ONNX model, calibrated on
 * the first images of a dataset's train split prepared exactly as evaluation prepares them.
 */
import { loadModelFile } from '../../checkpoint/model-file.js';
import { exportMetadata } from '../../classify/export-description.js';
import { firstSamples } from '../../data/dataset.js';
import { type DataLoader, evaluationLoader } from '../../data/loader.js';
import { DATASET_NAMES, openDataset } from '../../data/sources.js';
import { initBackend } from '../../engine/backend.js';
import { createInferenceSession, nchwFromNhwc } from '../../onnx/session.js';
import { type Agreement, compareTop1 } from '../../quantize/agreement.js';
import type { CalibrationBatch } from '../../quantize/calibrate.js';
import { OBSERVER_KINDS, type ObserverKind } from '../../quantize/observers.js';
import { quantizeModel } from '../../quantize/quantize-model.js';
import { trainedModelInfo } from '../../train/trained-model-info.js';
import { percent } from '../../util/format.js';
import { writeFileAtomic } from '../../weights/files-node.js';
import { integerOption, parseCommandArgs, UsageError } from '../args.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelOptionsFrom } from '../model-args.js';
import {
  checkLoadedWeights,
  WEIGHTS_OPTIONS,
  WEIGHTS_OPTIONS_HELP,
  weightsChoicesFrom,
  weightsFileFrom,
} from '../weights-args.js';

export const QUANTIZE_USAGE = `usage: rla quantize --weights FILE -o MODEL.int8.onnx [options]
  Static int8 quantization (ONNX QDQ: per-channel symmetric int8 weights, per-tensor uint8 activations,
  BatchNorm folded), calibrated on the first --samples images of the calibration dataset's train split.
  --weights FILE       .safetensors (from rla train/convert) or an official .pth / .pth.tar
  -o, --output FILE    .onnx file to write
  --calib NAME         calibration dataset: ${DATASET_NAMES.join(' | ')} (default: the weights' own)
  --data DIR           its directory
  --samples N          calibration images (default 512)
  --observer O         ${OBSERVER_KINDS.join(' | ')} (default percentile): how activation ranges are chosen
  --keep-fp32 N        keep the N most sensitive conv/linear layers in float32 (default 0)
  --weight-bits B      8 | 7: the int8 weights' range; 7 avoids the 16-bit saturation of x86 CPUs without VNNI
                       (default: 7 on such a CPU, as this machine's /proc/cpuinfo says, else 8)
  --check N            compare float32 and int8 top-1 on the first N test images (default 1000; 0: skip)
  --batch-size N       calibration batch size (default: 32 images of 32x32, fewer as images grow, 1 at 224x224:
                       calibration keeps every activation of a batch, about 340 MB per 224x224 rla_resnet50 image)
  --threads N          ONNX Runtime threads
${MODEL_OPTIONS_HELP}
${WEIGHTS_OPTIONS_HELP}`;

/** Images per calibration batch: 32 at 32x32, as many pixels at larger sizes (at least 1). */
function calibrationBatchSize(size: number): number {
  return Math.max(1, Math.min(32, Math.floor((32 * 32 * 32) / (size * size))));
}

/** Runs `rla quantize`; returns the exit code. */
export async function quantizeCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      weights: { type: 'string' },
      output: { type: 'string', short: 'o' },
      calib: { type: 'string' },
      data: { type: 'string' },
      samples: { type: 'string' },
      observer: { type: 'string' },
      'keep-fp32': { type: 'string' },
      'batch-size': { type: 'string' },
      check: { type: 'string' },
      'weight-bits': { type: 'string' },
      threads: { type: 'string' },
      ...MODEL_OPTIONS,
      ...WEIGHTS_OPTIONS,
    },
    QUANTIZE_USAGE,
  );
  if (values.help) {
    out(QUANTIZE_USAGE);
    return 0;
  }
  if (values.weights === undefined) throw new UsageError(`--weights is required\n\n${QUANTIZE_USAGE}`);
  if (values.output === undefined) throw new UsageError(`-o MODEL.onnx is required\n\n${QUANTIZE_USAGE}`);
  const observer = (values.observer ?? 'percentile') as ObserverKind;
  if (!OBSERVER_KINDS.includes(observer)) {
    throw new UsageError(`--observer ${values.observer}: choose ${OBSERVER_KINDS.join(', ')}`);
  }
  const samples = integerOption('samples', values.samples) ?? 512;
  if (samples < 1) throw new UsageError('--samples must be at least 1');
  const keepFloat = integerOption('keep-fp32', values['keep-fp32'], { min: 0 }) ?? 0;
  const threads = integerOption('threads', values.threads);
  const weightBits = integerOption('weight-bits', values['weight-bits']);
  if (weightBits !== undefined && weightBits !== 7 && weightBits !== 8) {
    throw new UsageError(`--weight-bits ${weightBits}: choose 7 or 8`);
  }
  await initBackend();
  const weights = await weightsFileFrom(values);
  const { model: name, options } = modelOptionsFrom(values);
  const choices = weightsChoicesFrom(values);
  const loaded = await loadModelFile(weights, {
    model: name,
    options,
    maxInflatedBytes: choices.maxInflatedBytes,
  });
  const { model } = loaded;
  const check = integerOption('check', values.check, { min: 0 }) ?? 1000;
  let loader: DataLoader | null = null;
  let checkLoader: DataLoader | null = null;
  try {
    checkLoadedWeights(model, weights, choices);
    const info = loaded.report.source.info;
    const stored = trainedModelInfo(info, weights);
    const datasetName = values.calib ?? (typeof info.dataset === 'string' ? info.dataset : undefined);
    if (!datasetName) {
      throw new UsageError('--calib is required (the weights file does not name its dataset)');
    }
    const dataset = await openDataset(String(datasetName), {
      data: values.data === undefined ? null : String(values.data),
    });
    const preprocessing = stored.preprocessing ?? dataset.preprocessing;
    model.checkInputSize(preprocessing.size, preprocessing.size);
    const images = firstSamples(dataset.train, samples);
    if (images.length === 0)
      throw new UsageError(`the ${datasetName} train split has no images to calibrate on`);
    loader = evaluationLoader(
      images,
      preprocessing,
      integerOption('batch-size', values['batch-size']) ?? calibrationBatchSize(preprocessing.size),
    );
    const calibrationLoader = loader;
    async function* batches(): AsyncGenerator<CalibrationBatch> {
      for await (const batch of calibrationLoader.epoch(0)) {
        const shape = [batch.size, batch.imageSize, batch.imageSize, 3] as const;
        yield {
          data: nchwFromNhwc(batch.x, shape),
          shape: [batch.size, 3, batch.imageSize, batch.imageSize],
        };
      }
    }
    const result = await quantizeModel(model, batches, {
      observer,
      keepFloat,
      threads,
      weightBits,
      metadata: exportMetadata(
        { preprocessing, labels: stored.classNames ?? dataset.classNames },
        String(datasetName),
      ),
    });
    await writeFileAtomic(String(values.output), result.bytes);
    let agreement: Agreement | null = null;
    if (check > 0) {
      checkLoader = evaluationLoader(firstSamples(dataset.test, check), preprocessing, 100);
      const float32 = await createInferenceSession(model, { threads });
      const quantized = await createInferenceSession(result.bytes, { threads });
      try {
        agreement = await compareTop1(float32, quantized, checkLoader);
      } finally {
        await Promise.all([float32.release(), quantized.release()]);
      }
    }
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    out(
      `${model.registryName}: wrote ${values.output} (int8, ${mib(result.bytes.length)} MiB = ` +
        `${(result.bytes.length / result.floatBytes).toFixed(2)}x the float32 export's ${mib(result.floatBytes)} MiB), ` +
        `calibrated on ${result.images} ${datasetName} train images (${observer}, ${result.weightBits}-bit weights)`,
    );
    if (agreement) {
      out(
        `on the first ${agreement.count} ${datasetName} test images: top-1 float32 ${percent(agreement.floatTop1)}, ` +
          `int8 ${percent(agreement.quantizedTop1)}, same top-1 class for ${percent(agreement.top1Agreement)} of images`,
      );
    }
    out('most sensitive layers (relative error on weight, input):');
    for (const layer of result.layers.slice(0, Math.max(5, keepFloat))) {
      const kept = result.keptFloat.includes(layer.node) ? '  [kept in float32]' : '';
      out(
        `  ${layer.node.padEnd(40)} ${layer.sensitivity.toFixed(4)}  (${layer.weightError.toFixed(4)}, ${layer.inputError.toFixed(4)})${kept}`,
      );
    }
  } finally {
    await loader?.close();
    await checkLoader?.close();
    model.dispose();
  }
  return 0;
}
