/** `rla info <model>`: exact parameter and MAC counts (thop rules) with the paper's 1024-based figures. */
import { countMacs, countParams, paperFormat } from '../../count/count.js';
import { initBackend } from '../../engine/backend.js';
import { createModel, getModelEntry } from '../../models/index.js';
import { BACKEND_OPTION, backendOption, integerOption, parseCommandArgs, UsageError } from '../args.js';

export const INFO_USAGE = `usage: rla info <model> [--input-size N] [--num-classes N] [--json] [--backend B]
  Prints trainable parameters and multiply-accumulates (thop 0.0.31 rules, as the paper counts them)
  --input-size N    square input side (default 224)
  --num-classes N   classifier outputs (default 1000)`;

export async function infoCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { 'input-size': { type: 'string' }, 'num-classes': { type: 'string' }, json: { type: 'boolean' }, ...BACKEND_OPTION },
    INFO_USAGE,
  );
  if (values.help) {
    out(INFO_USAGE);
    return 0;
  }
  const name = positionals[0];
  if (!name) throw new UsageError(`missing model name\n\n${INFO_USAGE}`);
  const inputSize = integerOption('input-size', values['input-size']) ?? 224;
  const numClasses = integerOption('num-classes', values['num-classes']);
  const entry = getModelEntry(name);
  await initBackend({ backend: backendOption(values.backend) });
  const model = createModel(name, numClasses === undefined ? { seed: 0 } : { numClasses, seed: 0 });
  try {
    const params = countParams(model);
    const macs = countMacs(model, [1, inputSize, inputSize, 3]);
    const result = {
      name,
      params,
      macs,
      paper: { params: paperFormat(params), flops: paperFormat(macs) },
      input: [1, 3, inputSize, inputSize],
      numClasses: model.numClasses,
      family: entry.family,
      officialFile: entry.officialFile,
    };
    if (values.json) {
      out(JSON.stringify(result, null, 2));
    } else {
      out(`${name}: ${entry.description}`);
      out(`  params  ${params.toLocaleString('en-US')} (${result.paper.params})`);
      out(`  MACs    ${macs.toLocaleString('en-US')} (${result.paper.flops}) at 1x3x${inputSize}x${inputSize}`);
      out(`  official code: ${entry.officialFile}`);
    }
  } finally {
    model.dispose();
  }
  return 0;
}
