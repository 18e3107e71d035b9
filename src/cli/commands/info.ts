/** `rla info <model>`: exact parameter and MAC counts (thop rules) with the paper's 1024-based figures. */
import { countMacs, countParams, countThopParams, paperFormat } from '../../count/count.js';
import { initBackend } from '../../engine/backend.js';
import { createModel, getModelEntry } from '../../models/index.js';
import { BACKEND_OPTION, backendOption, integerOption, parseCommandArgs, UsageError } from '../args.js';

export const INFO_USAGE = `usage: rla info <model> [--input-size N] [--num-classes N] [--json] [--backend B]
  Prints trainable parameters and multiply-accumulates (thop 0.0.31 rules, as the paper counts them)
  --input-size N    square input side (default 224; 32 for the CIFAR models)
  --num-classes N   classifier outputs (default 1000)`;

export async function infoCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      'input-size': { type: 'string' },
      'num-classes': { type: 'string' },
      json: { type: 'boolean' },
      ...BACKEND_OPTION,
    },
    INFO_USAGE,
  );
  if (values.help) {
    out(INFO_USAGE);
    return 0;
  }
  const name = positionals[0];
  if (!name) throw new UsageError(`missing model name\n\n${INFO_USAGE}`);
  const entry = getModelEntry(name);
  const inputSize = integerOption('input-size', values['input-size']) ?? entry.defaultInputSize ?? 224;
  const numClasses = integerOption('num-classes', values['num-classes']);
  await initBackend({ backend: backendOption(values.backend) });
  const model = createModel(name, numClasses === undefined ? { seed: 0 } : { numClasses, seed: 0 });
  try {
    const params = countParams(model);
    const macs = countMacs(model, [1, inputSize, inputSize, 3]);
    // thop's own total, shown only where it differs from the exact count (layers thop has no rule for).
    const thopParams = countThopParams(model);
    const result = {
      name,
      params,
      ...(thopParams !== params ? { thopParams } : {}),
      macs,
      // The paper's figures are what the official paras_flops.py prints: thop's totals.
      paper: { params: paperFormat(thopParams), flops: paperFormat(macs) },
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
      if (thopParams !== params)
        out(`  thop    ${thopParams.toLocaleString('en-US')} params (misses layers it has no rule for)`);
      out(
        `  MACs    ${macs.toLocaleString('en-US')} (${result.paper.flops}) at 1x3x${inputSize}x${inputSize}`,
      );
      out(`  official code: ${entry.officialFile}`);
    }
  } finally {
    model.dispose();
  }
  return 0;
}
