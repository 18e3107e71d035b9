/**
 * Bounds on model options that come from a file: a safetensors `__metadata__.options` string, or sizes inferred
 * from key shapes. Building a model allocates and initialises every weight, so a 300-byte header asking for 20000
 * blocks per stage (minutes) or `fc.weight` [400000, 0] (3.2 GB) must be refused before `createModel` runs.
 * The limits sit far above every published configuration; options given by the user are not checked here.
 */
import type { ModelOptions } from '../models/registry.js';
import { describeValue, truncateText } from '../util/bounded-text.js';
import { CheckpointError } from '../weights/errors.js';

/** The largest value each numeric option may take when it comes from a file, with why it is enough. */
export const OPTION_BOUNDS = {
  /** Blocks per stage: ResNet-152 has 36, ResNet-200 36. */
  blocksPerStage: 64,
  /** ImageNet-21k has 21,843 classes. */
  numClasses: 100_000,
  /** Official 64 (4 for ResNeXt); wide ResNets use 128. */
  widthPerGroup: 256,
  /** Official k = 32; the paper's ablations go to 64. */
  rlaChannel: 1024,
  /** ECA kernels are 3-9 in the paper. */
  ecaKernelSize: 63,
  /** MobileNetV2 width multipliers go to 1.4. */
  widthMult: 4,
} as const;

const RLA_INPUTS = ['block-output', 'residual-branch', 'shortcut'];

function isBoundedInt(value: unknown, max: number): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= max;
}

/**
 * The reason `options` may not build a model, or null. Each value must have its option's type and lie in
 * 1..bound; unknown option names are left to `createModel`, which names what the model accepts.
 */
function optionProblem(options: Record<string, unknown>): string | null {
  const b = OPTION_BOUNDS;
  for (const [name, value] of Object.entries(options)) {
    const shown = `${truncateText(name, 40)} ${describeValue(value)}`;
    switch (name) {
      case 'layers':
        if (
          !Array.isArray(value) ||
          value.length !== 4 ||
          !value.every((v) => isBoundedInt(v, b.blocksPerStage))
        )
          return `${shown}: must be 4 integers in 1..${b.blocksPerStage} (blocks per stage)`;
        break;
      case 'ecaKernelSizes':
        if (
          !Array.isArray(value) ||
          value.length !== 4 ||
          !value.every((v) => isBoundedInt(v, b.ecaKernelSize))
        )
          return `${shown}: must be 4 integers in 1..${b.ecaKernelSize}`;
        break;
      case 'numClasses':
      case 'widthPerGroup':
      case 'rlaChannel':
        if (!isBoundedInt(value, b[name])) return `${shown}: must be an integer in 1..${b[name]}`;
        break;
      case 'widthMult':
        if (typeof value !== 'number' || !(value > 0 && value <= b.widthMult))
          return `${shown}: must be a number in (0, ${b.widthMult}]`;
        break;
      case 'zeroInitLastBn':
        if (typeof value !== 'boolean') return `${shown}: must be true or false`;
        break;
      case 'rlaInput':
        if (typeof value !== 'string' || !RLA_INPUTS.includes(value))
          return `${shown}: must be one of ${RLA_INPUTS.join(', ')}`;
        break;
      case 'seed':
        if (!Number.isSafeInteger(value)) return `${shown}: must be an integer`;
        break;
    }
  }
  return null;
}

/**
 * Checks options read from a file before any model is built; `origin` says where they were found (e.g.
 * `__metadata__.options`) and the error names the file, the option and the bound.
 */
export function checkFileOptions(options: ModelOptions, origin: string, fileName: string): void {
  const problem = optionProblem(options as Record<string, unknown>);
  if (problem !== null) throw new CheckpointError(`${fileName}: ${origin}: ${problem}`);
}

/** Parses a safetensors `__metadata__.options` string into bounded model options. */
export function parseFileOptions(text: string, fileName: string): ModelOptions {
  const origin = '__metadata__.options';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(
      `${fileName}: ${origin} is not valid JSON (${truncateText((error as Error).message)})`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new CheckpointError(`${fileName}: ${origin} must be a JSON object, got ${describeValue(parsed)}`);
  checkFileOptions(parsed as ModelOptions, origin, fileName);
  return parsed as ModelOptions;
}
