/** `rla export-onnx`: writes a model with its weights as an ONNX file (pure TypeScript, no Python). */
import { loadModelFile } from '../../checkpoint/model-file.js';
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
  if (values.weights !== undefined) {
    const choices = weightsChoicesFrom(values);
    const loaded = await loadModelFile(String(values.weights), {
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
  } else {
    if (!name) throw new UsageError(`--untrained needs a model name\n\n${EXPORT_ONNX_USAGE}`);
    model = createModel(name, options);
    source = 'untrained weights';
  }
  try {
    const bytes = exportOnnx(model, exportOptions);
    await writeFileAtomic(String(values.output), bytes);
    const size = (bytes.length / 2 ** 20).toFixed(1);
    out(
      `${model.registryName} from ${source}: wrote ${values.output} (${size} MiB, opset ${exportOptions.opset})`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}
