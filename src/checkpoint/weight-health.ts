/**
 * Weights that load but cannot give meaningful outputs: NaN or ±Inf values anywhere, and BatchNorm running
 * variances below zero (normalisation takes their square root). A file can hold them by accident (a diverged
 * run saved by another tool) or on purpose (±Inf in `fc.bias` made every prediction "correct" before accuracy
 * followed torch.topk). Loaders report them by key; what to do (warn, refuse) is the caller's choice.
 */
import type { Module } from '../nn/module.js';
import { truncateText } from '../util/bounded-text.js';

/** Keys whose values are unusable, by kind. */
export interface WeightProblems {
  /** Tensors holding NaN or ±Inf. */
  nonFinite: string[];
  /** BatchNorm `running_var` tensors with a negative entry. */
  negativeVariance: string[];
}

/** Keys listed per kind in a message; the rest are counted. */
const SHOWN_KEYS = 5;

function isRunningVariance(key: string): boolean {
  return key === 'running_var' || key.endsWith('.running_var');
}

/** The problems of float32 tensors given as (key, values) pairs. */
export function weightProblems(entries: Iterable<readonly [string, Float32Array]>): WeightProblems {
  const problems: WeightProblems = { nonFinite: [], negativeVariance: [] };
  for (const [key, values] of entries) {
    let finite = true;
    let negative = false;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      // v - v is NaN exactly for NaN and ±Inf.
      if (v - v !== 0) finite = false;
      else if (v < 0) negative = true;
    }
    if (!finite) problems.nonFinite.push(key);
    if (negative && isRunningVariance(key)) problems.negativeVariance.push(key);
  }
  return problems;
}

/** The problems of a model's float32 state (parameters and buffers; tied keys are each listed). */
export function modelWeightProblems(model: Module): WeightProblems {
  return weightProblems(
    (function* () {
      for (const { key, tensor } of model.stateEntries()) {
        if (tensor.dtype === 'float32') yield [key, tensor.dataSync() as Float32Array] as const;
      }
    })(),
  );
}

/** True when there is nothing to report. */
export function weightsAreHealthy(problems: WeightProblems): boolean {
  return problems.nonFinite.length === 0 && problems.negativeVariance.length === 0;
}

function listKeys(keys: string[]): string {
  const shown = keys.slice(0, SHOWN_KEYS).map((key) => truncateText(key));
  return `${shown.join(', ')}${keys.length > SHOWN_KEYS ? `, ... (${keys.length} in all)` : ''}`;
}

/** One line naming at most 5 keys of each kind, e.g. "NaN/Inf values in fc.bias; negative running_var in ...". */
export function describeWeightProblems(problems: WeightProblems): string {
  const parts: string[] = [];
  if (problems.nonFinite.length > 0) parts.push(`NaN/Inf values in ${listKeys(problems.nonFinite)}`);
  if (problems.negativeVariance.length > 0)
    parts.push(`negative BatchNorm running_var in ${listKeys(problems.negativeVariance)}`);
  return parts.join('; ');
}
