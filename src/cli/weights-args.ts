/**
 * How the commands that load a weights file find it and treat what they cannot trust in it: `--weights` may be an
 * http(s) URL (downloaded once into the cache, see src/hub/) checked against `--weights-sha256`, `--max-inflated-mb`
 * caps the bytes inflated from a compressed `.pth`, and `--strict-finite` refuses NaN/Inf weights and negative
 * BatchNorm variances instead of warning about them.
 */
import {
  describeWeightProblems,
  modelWeightProblems,
  weightsAreHealthy,
} from '../checkpoint/weight-health.js';
import { DownloadError } from '../hub/download.js';
import { resolveWeights } from '../hub/from-pretrained.js';
import type { Module } from '../nn/module.js';
import { NonFiniteWeightsError } from '../train/training-checkpoint.js';
import { integerOption, type OptionSpec, UsageError } from './args.js';

export const WEIGHTS_OPTIONS: OptionSpec = {
  'weights-sha256': { type: 'string' },
  'strict-finite': { type: 'boolean' },
  'max-inflated-mb': { type: 'string' },
};

export const WEIGHTS_OPTIONS_HELP = `  --weights URL       an http(s) URL works too: downloaded once into the cache (RLA_HOME, see rla download)
  --weights-sha256 H  the file's expected sha256 (checked on every use; for a URL or a local file)
  --strict-finite     refuse weights holding NaN/Inf or a negative BatchNorm running_var (default: warn)
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

/**
 * The local path of `--weights`: the file itself, or a URL's cached download (fetched when missing); checked
 * against `--weights-sha256` when given. A failed download or a wrong hash is an error naming the source.
 */
export async function weightsFileFrom(values: Record<string, unknown>): Promise<string> {
  const source = String(values.weights);
  const sha256 = values['weights-sha256'];
  if (sha256 !== undefined && typeof sha256 !== 'string')
    throw new UsageError('--weights-sha256 needs a value');
  try {
    return await resolveWeights(source, { sha256 });
  } catch (error) {
    if (error instanceof DownloadError) throw new DownloadError(`--weights ${source}: ${error.message}`);
    throw error;
  }
}
