/** `rla convert`: PyTorch checkpoint <-> rla-net safetensors <-> .pth, with strict key/shape checking. */
import { loadModelFile, saveModelFile } from '../../checkpoint/model-file.js';
import { initBackend } from '../../engine/backend.js';
import { printableText } from '../../util/bounded-text.js';
import { BACKEND_OPTION, backendOption, parseCommandArgs, UsageError } from '../args.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelOptionsFrom } from '../model-args.js';
import {
  checkLoadedWeights,
  WEIGHTS_OPTIONS,
  WEIGHTS_OPTIONS_HELP,
  weightsChoicesFrom,
} from '../weights-args.js';

export const CONVERT_USAGE = `usage: rla convert <in.pth|.pth.tar|.safetensors> -o <out.safetensors|.pth> [options]
  Reads official PyTorch checkpoints (plain or trainer dicts, module. prefixes) or rla-net safetensors,
  checks every key and shape against the model, and writes the weights in the format of -o's extension.
  -o, --output FILE   output file (.safetensors keeps the model name and options; .pth opens with torch.load)
${MODEL_OPTIONS_HELP}
${WEIGHTS_OPTIONS_HELP}
  --ema               take state_dict_ema from trainer checkpoints that have one`;

export async function convertCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      output: { type: 'string', short: 'o' },
      ema: { type: 'boolean' },
      ...MODEL_OPTIONS,
      ...WEIGHTS_OPTIONS,
      ...BACKEND_OPTION,
    },
    CONVERT_USAGE,
  );
  if (values.help) {
    out(CONVERT_USAGE);
    return 0;
  }
  const input = positionals[0];
  if (!input || values.output === undefined)
    throw new UsageError(`need an input file and -o <output>\n\n${CONVERT_USAGE}`);
  await initBackend({ backend: backendOption(values.backend) ?? 'cpu' });
  const { model: name, options } = modelOptionsFrom(values);
  const choices = weightsChoicesFrom(values);
  const loaded = await loadModelFile(input, {
    model: name,
    options,
    useEma: values.ema === true,
    maxInflatedBytes: choices.maxInflatedBytes,
  });
  try {
    checkLoadedWeights(loaded.model, input, choices);
    out(
      `model: ${loaded.model.registryName} ${JSON.stringify(loaded.model.registryOptions)} (${loaded.chosenBy})`,
    );
    const { format, unwrappedFrom, info } = loaded.report.source;
    out(
      `read ${input}: ${format}${unwrappedFrom ? `, weights from '${unwrappedFrom}'` : ''}${Object.keys(info).length ? ` ${printableText(JSON.stringify(info), 400)}` : ''}`,
    );
    await saveModelFile(loaded.model, String(values.output));
    out(`wrote ${values.output}`);
  } finally {
    loaded.model.dispose();
  }
  return 0;
}
