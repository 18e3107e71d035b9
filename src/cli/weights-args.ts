/**
 * How the commands that load a weights file treat what they cannot trust in it: `--max-inflated-mb` (the cap on
 * bytes inflated from a compressed `.pth`) and `--strict-finite` (refuse NaN/Inf weights and negative BatchNorm
 * variances instead of warning about them).
 */
import {
  describeWeightProblems,
  modelWeightProblems,
  weightsAreHealthy,
} from '../checkpoint/weight-health.js';
import type { Module } from '../nn/module.js';
import { NonFiniteWeightsError } from '../train/training-checkpoint.js';
import { integerOption, type OptionSpec } from './args.js';

export const WEIGHTS_OPTIONS: OptionSpec = {
  'strict-finite': { type: 'boolean' },
  'max-inflated-mb': { type: 'string' },
};

export const WEIGHTS_OPTIONS_HELP = `  --strict-finite     refuse weights holding NaN/Inf or a negative BatchNorm running_var (default: warn)
  --max-inflated-mb N cap on MiB inflated from a compressed .pth (default 64 + 8x the file size)`;

/** What `--strict-finite` and `--max-inflated-mb` ask for. */
export interface WeightsLoadChoices {
  strictFinite: boolean;
  /** For `loadModelFile`'s `maxInflatedBytes` (undefined: its default). */
  maxInflatedBytes?: number;
}

export function weightsChoicesFrom(values: Record<string, unknown>): WeightsLoadChoices {
  const megabytes = integerOption('max-inflated-mb', values['max-inflated-mb']);
  return {
    strictFinite: values['strict-finite'] === true,
    maxInflatedBytes: megabytes === undefined ? undefined : megabytes * 2 ** 20,
  };
}

/**
 * Checks a loaded model's weights: problems are an error with `--strict-finite`, else a warning on stderr naming
 * the keys (bounded), so outputs computed from such weights are never taken at face value.
 */
export function checkLoadedWeights(model: Module, file: string, choices: WeightsLoadChoices): void {
  const problems = modelWeightProblems(model);
  if (weightsAreHealthy(problems)) return;
  const description = `${file}: ${describeWeightProblems(problems)}`;
  if (choices.strictFinite) throw new NonFiniteWeightsError(`${description} (refused: --strict-finite)`);
  console.error(
    `warning: ${description}; outputs will not be meaningful (--strict-finite refuses such files)`,
  );
}
