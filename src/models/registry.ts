/**
 * The model registry: official factory names -> builders. `createModel(name, options)` and `listModels(filter)`
 * are the one entry point for building models (CLI, checkpoints, tests all go through it).
 */
import type { RLAInput } from '../layers/rla-update.js';
import { truncateText } from '../util/bounded-text.js';
import { closestMatches } from '../util/edit-distance.js';
import type { ClassifierModel } from './classifier.js';

/** Options a model may accept; each registry entry lists the ones it honours. */
export interface ModelOptions {
  numClasses?: number;
  /** k, channels of the RLA hidden state. */
  rlaChannel?: number;
  /** ECA kernel size per stage (ECA models only). */
  ecaKernelSizes?: number[];
  /** Blocks per stage (ResNet family). */
  layers?: number[];
  /** `width_per_group` of the bottlenecks (ResNet family). */
  widthPerGroup?: number;
  /** Zero-init the last BN of each residual branch (official default true). */
  zeroInitLastBn?: boolean;
  /** What the RLA path aggregates: official `block-output` (default) or the paper-literal `residual-branch`. */
  rlaInput?: RLAInput;
  /** Width multiplier (MobileNetV2 family). */
  widthMult?: number;
  /** Seed of the initialisation PRNG (omitted: random). */
  seed?: number;
}

export type ModelOptionName = keyof ModelOptions;

export interface ModelEntry {
  /** Official factory name, e.g. `rla_resnet50_eca`. */
  name: string;
  /** Family, e.g. `rla_resnet`, `resnet`. */
  family: string;
  /** File of the official code that defines it. */
  officialFile: string;
  description: string;
  /** Options this model honours (others are rejected with a clear error). */
  options: readonly ModelOptionName[];
  /** Square input side `rla info` counts at when none is given; absent: 224 (ImageNet). CIFAR models: 32. */
  defaultInputSize?: number;
  /** Training recipe a trainer should default to: `cifar` = paper §4.1; absent: the family's ImageNet recipe. */
  recipe?: 'cifar';
  create(options: ModelOptions): ClassifierModel;
}

const entries = new Map<string, ModelEntry>();

export function registerModel(entry: ModelEntry): void {
  if (entries.has(entry.name)) throw new Error(`model ${entry.name} is registered twice`);
  entries.set(entry.name, entry);
}

/** Registry entry of a model name; unknown names get the closest suggestions. */
export function getModelEntry(name: string): ModelEntry {
  const entry = entries.get(name);
  if (entry) return entry;
  const suggestions = closestMatches(name, entries.keys(), 3);
  const hint = suggestions.length > 0 ? `did you mean ${suggestions.join(', ')}? ` : '';
  throw new Error(`unknown model "${truncateText(name)}"; ${hint}(rla list shows all)`);
}

/** Builds a registered model. Options the model does not honour are an error, not silently ignored. */
export function createModel(name: string, options: ModelOptions = {}): ClassifierModel {
  const entry = getModelEntry(name);
  const rejected = Object.entries(options)
    .filter(([key, value]) => value !== undefined && !entry.options.includes(key as ModelOptionName))
    .map(([key]) => key);
  if (rejected.length > 0) {
    throw new Error(
      `model ${name} does not take option(s) ${rejected.join(', ')}; it accepts ${entry.options.join(', ')}`,
    );
  }
  const model = entry.create(options);
  model.registryName = name;
  model.registryOptions = { ...options };
  return model;
}

/**
 * Registered model names, sorted. `filter` is a substring, or a wildcard pattern with `*` (e.g. `rla_*_eca`).
 */
export function listModels(filter?: string): string[] {
  const names = [...entries.keys()].sort();
  if (!filter) return names;
  if (!filter.includes('*')) return names.filter((name) => name.includes(filter));
  const pattern = new RegExp(`^${filter.split('*').map(escapeRegExp).join('.*')}$`);
  return names.filter((name) => pattern.test(name));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
