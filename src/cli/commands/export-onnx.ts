/**
 * `rla export-onnx`: writes a model with its weights as an ONNX file (pure TypeScript, no Python), self-describing:
 * its metadata says how to prepare images (mean/std, input size, the exact pipeline) and names the classes; with
 * `--hf-config` also `config.json` + `preprocessor_config.json` beside it.
 */
import { dirname, join } from 'node:path';
import { loadModelFile } from '../../checkpoint/model-file.js';
import { resolveInference } from '../../classify/classifier.js';
import { exportMetadata, huggingFaceConfigs } from '../../classify/export-description.js';
import { initBackend } from '../../engine/backend.js';
import type { ClassifierModel } from '../../models/classifier.js';
import { createModel } from '../../models/index.js';
import {
  DEFAULT_OPSET,
  type ExportOnnxOptions,
  exportOnnx,
  MAX_OPSET,
  MIN_OPSET,
} from '../../onnx/export.js';
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

export const EXPORT_ONNX_USAGE = `usage: rla export-onnx [<name>] --weights <file> -o <model.onnx> [options]
  Writes an ONNX graph (NCHW input "input" [N, 3, H, W], output "logits"), BatchNorm folded into the convs.
  <name>              registry name (default: from the weights file, as rla run does)
  --weights FILE      .pth / .pth.tar / .safetensors
  --untrained         export freshly initialised weights instead (benchmarks, tests)
  -o, --output FILE   .onnx file to write
  --opset N           ONNX opset, ${MIN_OPSET}..${MAX_OPSET} (default ${DEFAULT_OPSET})
  --dynamic-batch     symbolic batch dimension (default: fixed --batch-size)
  --batch-size N      fixed batch size (default 1)
  --input-size N      fixed square input size, e.g. 224 (default: symbolic height and width)
  --no-fold-bn        keep BatchNormalization nodes instead of folding them into the convs
  --intermediates     also output stem.x, stageS.x, stageS.h, ..., head.features (NCHW)
  --hf-config         also write config.json (labels) and preprocessor_config.json (resize, crop, mean/std)
                      into the output's folder, as Hugging Face / transformers.js model folders have
  The file's metadata always records the preprocessing (mean, std, input_size, crop_pct, the exact pipeline) and
  the class names: those the weights file stores (rla train), else the model's pretrained config.
${MODEL_OPTIONS_HELP}
${WEIGHTS_OPTIONS_HELP}`;

export async function exportOnnxCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      weights: { type: 'string' },
      untrained: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      opset: { type: 'string' },
      'dynamic-batch': { type: 'boolean' },
      'batch-size': { type: 'string' },
      'input-size': { type: 'string' },
      'no-fold-bn': { type: 'boolean' },
      intermediates: { type: 'boolean' },
      'hf-config': { type: 'boolean' },
      ...MODEL_OPTIONS,
      ...WEIGHTS_OPTIONS,
    },
    EXPORT_ONNX_USAGE,
  );
  if (values.help) {
    out(EXPORT_ONNX_USAGE);
    return 0;
  }
  if (values.output === undefined)
    throw new UsageError(`-o <model.onnx> is required\n\n${EXPORT_ONNX_USAGE}`);
  if ((values.weights === undefined) === (values.untrained !== true)) {
    throw new UsageError(`give exactly one of --weights FILE and --untrained\n\n${EXPORT_ONNX_USAGE}`);
  }
  if (positionals.length > 1) throw new UsageError(`one model name at most, got ${positionals.join(' ')}`);
  const { model: modelFlag, options } = modelOptionsFrom(values);
  if (positionals[0] && modelFlag && positionals[0] !== modelFlag) {
    throw new UsageError(`model given twice: ${positionals[0]} and --model ${modelFlag}`);
  }
  const name = positionals[0] ?? modelFlag;
  const exportOptions: ExportOnnxOptions = {
    opset: integerOption('opset', values.opset) ?? DEFAULT_OPSET,
    dynamicBatch: values['dynamic-batch'] === true,
    batchSize: integerOption('batch-size', values['batch-size']),
    inputSize: integerOption('input-size', values['input-size']),
    foldBatchNorm: values['no-fold-bn'] !== true,
    intermediates: values.intermediates === true,
  };
  // The default backend (wasm when available) transposes the weights to PyTorch layout fastest.
  await initBackend();
  let model: ClassifierModel;
  let source: string;
  let fileMetadata: Record<string, string | number> = {};
  if (values.weights !== undefined) {
    const choices = weightsChoicesFrom(values);
    const loaded = await loadModelFile(await weightsFileFrom(values), {
      model: name,
      options,
      maxInflatedBytes: choices.maxInflatedBytes,
    });
    model = loaded.model;
    try {
      checkLoadedWeights(model, String(values.weights), choices);
    } catch (error) {
      model.dispose();
      throw error;
    }
    source = `${values.weights} (${loaded.chosenBy})`;
    fileMetadata = loaded.report.source.info;
  } else {
    if (!name) throw new UsageError(`--untrained needs a model name\n\n${EXPORT_ONNX_USAGE}`);
    model = createModel(name, options);
    source = 'untrained weights';
  }
  try {
    const setup = resolveInference({
      metadata: fileMetadata,
      source: String(values.weights ?? name),
      modelName: model.registryName ?? null,
      numClasses: model.numClasses,
    });
    const dataset = typeof fileMetadata.dataset === 'string' ? fileMetadata.dataset : undefined;
    const bytes = exportOnnx(model, { ...exportOptions, metadata: exportMetadata(setup, dataset) });
    await writeFileAtomic(String(values.output), bytes);
    if (values['hf-config']) {
      const configs = huggingFaceConfigs(setup, {
        name: model.registryName ?? name ?? 'rla-net',
        options: model.registryOptions ?? {},
        numClasses: model.numClasses,
      });
      const folder = dirname(String(values.output));
      const text = (value: object) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
      await writeFileAtomic(join(folder, 'config.json'), text(configs.config));
      await writeFileAtomic(join(folder, 'preprocessor_config.json'), text(configs.preprocessorConfig));
      out(`wrote ${join(folder, 'config.json')} and ${join(folder, 'preprocessor_config.json')}`);
    }
    const size = (bytes.length / 2 ** 20).toFixed(1);
    out(
      `${model.registryName} from ${source}: wrote ${values.output} (${size} MiB, opset ${exportOptions.opset})`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}
