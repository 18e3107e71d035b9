/**
 * A weights file's bytes -> a ready model with the preprocessing and class names it was trained with, using only
 * rla-net's browser-safe modules (no `node:*`). It mirrors `loadModelFile` + `trainedModelInfo` for bytes; the
 * package's browser entry (`loadClassifier`) replaces it once that lands.
 */
import { inferArchitecture } from '../../src/checkpoint/infer-architecture.js';
import { loadStateDictSource } from '../../src/checkpoint/load-checkpoint.js';
import { checkFileOptions, parseFileOptions } from '../../src/checkpoint/option-bounds.js';
import { RLA_FORMAT } from '../../src/checkpoint/save-checkpoint.js';
import { readStateDict } from '../../src/checkpoint/state-dict-source.js';
import { imagenetPreprocessing, type Preprocessing } from '../../src/data/preprocessing.js';
import { parsePreprocessing } from '../../src/data/preprocessing-check.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createModel, type ModelOptions } from '../../src/models/index.js';

/** A model with what classifying an image needs. */
export interface LoadedWeights {
  model: ClassifierModel;
  /** Registry name and options the model was built with. */
  name: string;
  options: ModelOptions;
  /** How images are prepared: the file's stored pipeline, else ImageNet evaluation (resize 256, crop 224). */
  preprocessing: Preprocessing;
  classNames: string[];
  /** Where the preprocessing and labels came from, for the page to say. */
  describedBy: 'file metadata' | 'ImageNet defaults';
}

/** Class names that `rla train` stores (`__metadata__.classes`), or null. */
function storedClassNames(info: Record<string, string | number>, fileName: string): string[] | null {
  const text = info.classes;
  if (typeof text !== 'string') return null;
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new Error(`${fileName}: __metadata__.classes must be a list of strings`);
  return value;
}

/** Builds the model a `.safetensors` / `.pth` file describes (metadata, else inferred from key shapes) and loads it. */
export function loadWeights(bytes: Uint8Array, fileName: string): LoadedWeights {
  const source = readStateDict(bytes, { fileName });
  let name: string;
  let options: ModelOptions;
  if (source.info.format === RLA_FORMAT && typeof source.info.model === 'string') {
    name = source.info.model;
    options = parseFileOptions(String(source.info.options ?? '{}'), fileName);
  } else {
    const inferred = inferArchitecture(new Map([...source.tensors].map(([key, t]) => [key, t.shape])));
    checkFileOptions(inferred.options, `options inferred from key shapes (${inferred.name})`, fileName);
    ({ name, options } = inferred);
  }
  const model = createModel(name, options);
  try {
    loadStateDictSource(model, source, { strict: true, fileName });
  } catch (error) {
    model.dispose();
    throw error;
  }
  model.eval();
  const stored =
    typeof source.info.preprocessing === 'string'
      ? parsePreprocessing(
          source.info.preprocessing,
          (problem) => new Error(`${fileName}: __metadata__.preprocessing: ${problem}`),
        )
      : null;
  const classNames =
    storedClassNames(source.info, fileName) ??
    Array.from({ length: model.numClasses }, (_, i) => `class ${i}`);
  return {
    model,
    name,
    options,
    preprocessing: stored ?? imagenetPreprocessing(),
    classNames,
    describedBy: stored ? 'file metadata' : 'ImageNet defaults',
  };
}
