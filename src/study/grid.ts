/**
 * A study's grid: every model (with its createModel options) x every k (`rlaChannel`, for models that have an RLA
 * path) x every seed, each cell one training run of the same recipe. Cells are ordered seed first, so a study cut
 * short holds whole seeds of every model rather than every seed of a few models.
 */
import { getModelEntry, type ModelOptions } from '../models/registry.js';
import type { TrainConfig } from '../train/config.js';

/** One model of the comparison: a registry name, its options and the label the table shows. */
export interface StudyModel {
  label: string;
  model: string;
  options: ModelOptions;
}

/** The axes of a study; `rlaChannels` empty keeps each RLA model's own k (its options or its default). */
export interface StudyGrid {
  models: StudyModel[];
  seeds: number[];
  rlaChannels: number[];
}

/** One training run of the grid. */
export interface StudyCell {
  /** Directory name under `cells/`, unique in the grid: `<label>-k<k>-s<seed>` (k only for RLA models). */
  id: string;
  /** The table row it averages into: the label, with ` k=<k>` when the grid varies k. */
  group: string;
  label: string;
  /** k of the cell's RLA path; null for models without one. */
  rlaChannel: number | null;
  seed: number;
  /** The whole run: recipe values, model, options and seed. */
  config: TrainConfig;
}

/** Whether a registry model has an RLA path whose width `rlaChannel` sets. */
export function takesRlaChannel(model: string): boolean {
  return getModelEntry(model).options.includes('rlaChannel');
}

/** A label as a directory name: letters, digits, `.`, `_` and `-` only. */
function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-');
}

/**
 * The cells of `grid`, seed-major. `configFor(model, options, seed)` gives a cell's run config (the recipe with
 * that model and seed). A model given an explicit `rlaChannel` while the grid varies k is an error, as is a
 * grid whose labels collide.
 */
export function expandGrid(
  grid: StudyGrid,
  configFor: (model: string, options: ModelOptions, seed: number) => TrainConfig,
): StudyCell[] {
  if (grid.models.length === 0) throw new Error('a study needs at least one model');
  if (grid.seeds.length === 0) throw new Error('a study needs at least one seed');
  const slugs = new Map<string, string>();
  for (const { label } of grid.models) {
    const other = slugs.get(slug(label));
    if (other !== undefined) throw new Error(`models "${other}" and "${label}" need different labels`);
    slugs.set(slug(label), label);
  }
  const cells: StudyCell[] = [];
  for (const seed of grid.seeds) {
    for (const entry of grid.models) {
      const rla = takesRlaChannel(entry.model);
      if (rla && grid.rlaChannels.length > 0 && entry.options.rlaChannel !== undefined) {
        throw new Error(
          `${entry.label}: rlaChannel is set in its options and by the grid's k values; give it in one place`,
        );
      }
      const ks: Array<number | null> = rla && grid.rlaChannels.length > 0 ? grid.rlaChannels : [null];
      for (const k of ks) {
        const options = k === null ? entry.options : { ...entry.options, rlaChannel: k };
        const group = k === null ? entry.label : `${entry.label} k=${k}`;
        cells.push({
          id: `${slug(entry.label)}${k === null ? '' : `-k${k}`}-s${seed}`,
          group,
          label: entry.label,
          rlaChannel: rla ? (options.rlaChannel ?? null) : null,
          seed,
          config: configFor(entry.model, options, seed),
        });
      }
    }
  }
  const ids = new Set(cells.map((cell) => cell.id));
  if (ids.size !== cells.length) throw new Error('the grid repeats a cell (a seed or k given twice?)');
  return cells;
}
