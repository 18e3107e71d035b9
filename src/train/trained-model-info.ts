/**
 * Reads what a trained-weights file (`best.safetensors`, see trained-model-file.ts) stores for inference: the
 * preprocessing and the class names. Browser-safe (metadata only, no files).
 */
import type { Preprocessing } from '../data/preprocessing.js';
import { parsePreprocessing } from '../data/preprocessing-check.js';
import { describeValue, printableText, truncateText } from '../util/bounded-text.js';
import { CheckpointError } from '../weights/errors.js';

/** Class names a file may list (ImageNet-21k has 21,843). */
const MAX_CLASS_NAMES = 100_000;

/** Stored class names, each made printable (escape sequences replaced) and cut to 120 characters. */
function parseClassNames(text: string, fail: (problem: string) => Error): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw fail(`not valid JSON (${truncateText((error as Error).message)})`);
  }
  if (!Array.isArray(value) || value.length > MAX_CLASS_NAMES || !value.every((v) => typeof v === 'string'))
    throw fail(`${describeValue(value)} must be a list of at most ${MAX_CLASS_NAMES} strings`);
  return value.map((name) => printableText(name));
}

/**
 * The preprocessing and class names stored by {@link saveTrainedModel} (null for weight files without them).
 * A stored value that is not valid is an error naming `fileName` and the key, never a silent fallback to
 * another pipeline: images prepared differently from training give quietly wrong answers.
 */
export function trainedModelInfo(
  metadata: Record<string, string | number>,
  fileName: string,
): {
  preprocessing: Preprocessing | null;
  classNames: string[] | null;
} {
  const stored = <T>(key: string, parse: (text: string, fail: (problem: string) => Error) => T): T | null => {
    const value = metadata[key];
    if (value === undefined) return null;
    const fail = (problem: string) => new CheckpointError(`${fileName}: __metadata__.${key}: ${problem}`);
    if (typeof value !== 'string') throw fail('is not a string');
    return parse(value, fail);
  };
  return {
    preprocessing: stored('preprocessing', parsePreprocessing),
    classNames: stored('classes', parseClassNames),
  };
}
