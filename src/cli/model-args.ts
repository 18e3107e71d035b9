/** The `--model`, `--options`, `--num-classes` trio shared by commands that build a model from weights. */
import { getModelEntry, type ModelOptions } from '../models/registry.js';
import { integerOption, type OptionSpec, UsageError } from './args.js';

export const MODEL_OPTIONS: OptionSpec = {
  model: { type: 'string' },
  options: { type: 'string' },
  'num-classes': { type: 'string' },
};

export const MODEL_OPTIONS_HELP = `  --model NAME        registry name (default: from the file's metadata, or inferred from its keys)
  --options JSON      createModel options, e.g. '{"layers":[1,1,1,1],"widthPerGroup":16}'
  --num-classes N     classifier outputs`;

export function modelOptionsFrom(values: Record<string, unknown>): { model?: string; options: ModelOptions } {
  let options: ModelOptions = {};
  if (values.options !== undefined) {
    try {
      options = JSON.parse(String(values.options)) as ModelOptions;
    } catch (error) {
      throw new UsageError(`--options is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new UsageError('--options must be a JSON object');
    }
  }
  const numClasses = integerOption('num-classes', values['num-classes']);
  if (numClasses !== undefined) options.numClasses = numClasses;
  const model = values.model === undefined ? undefined : String(values.model);
  if (model !== undefined) {
    try {
      getModelEntry(model);
    } catch (error) {
      throw new UsageError(`--model: ${(error as Error).message}`);
    }
  }
  return { model, options };
}
