/**
 * `rla study`: a comparison grid (models x k x seeds) trained with one recipe on one dataset, resumable cell by
 * cell, summarised as a table (results.md, results.json) and a chart (top1.svg) in the study directory.
 */
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { ModelOptions } from '../../models/registry.js';
import { expandGrid, type StudyModel } from '../../study/grid.js';
import { studyChartSvg } from '../../study/plot-svg.js';
import { type CellResult, runStudy, StudyMismatchError } from '../../study/runner.js';
import { studyMarkdown, summarizeStudy } from '../../study/table.js';
import { TrainingSetupError } from '../../train/run.js';
import { writeFileAtomic } from '../../weights/files-node.js';
import { backendOption, integerOption, type OptionSpec, parseCommandArgs, UsageError } from '../args.js';
import { configFrom, engineFrom, progressReporter, OPTIONS as TRAIN_OPTIONS } from './train.js';

/** `rla study --help`. */
export const STUDY_USAGE = `usage: rla study --out DIR --model [LABEL=]NAME[JSON] [--model ...] [--seeds 0,1,2]
                 [--rla-channels 8,16,32] [rla train options]
  Trains every model x k x seed of the grid with one recipe, one cell after another, each in DIR/cells/<id>/,
  and writes DIR/results.md, DIR/results.json (mean and std over seeds of test top-1/top-5, params, MACs,
  train img/s, wall time; each row's top-1 against the first row with Welch's t) and DIR/top1.svg.
  Rerunning the same command continues a stopped study: finished cells are kept, a cell cut short resumes
  from its checkpoint. Ctrl-C stops after the current batch with a checkpoint.
  --model [LABEL=]NAME[JSON]  a registry model with createModel options, e.g.
                         'ResNet=resnet50{"layers":[1,1,1,1],"widthPerGroup":4}' (repeat; the first is the
                         reference row); LABEL defaults to NAME
  --seeds LIST           comma-separated seeds (default 0,1,2): initialisation, split, shuffling
  --rla-channels LIST    k values for every model with an RLA path (default: each model's own k)
  --save-every N         checkpoint every N steps inside an epoch (default 50), so a killed cell loses little
  --engine E  --threads N  --backend B   as for rla train (default: the fastest engine, ort)
  recipe options as for rla train: --recipe --dataset --data --epochs --batch-size --lr --val-size ...`;

/** rla train's options, less those a study sets per cell or does not allow. */
const PER_CELL = new Set(['model', 'options', 'seed', 'out', 'resume', 'num-classes']);
const OPTIONS: OptionSpec = {
  ...Object.fromEntries(Object.entries(TRAIN_OPTIONS).filter(([name]) => !PER_CELL.has(name))),
  out: { type: 'string', short: 'o' },
  model: { type: 'string', multiple: true },
  seeds: { type: 'string' },
  'rla-channels': { type: 'string' },
};

/** Steps between mid-epoch checkpoints when --save-every is not given. */
const DEFAULT_SAVE_EVERY = 50;

/** `[LABEL=]NAME[JSON]` as a study model. */
export function parseStudyModel(text: string): StudyModel {
  const brace = text.indexOf('{');
  const head = brace < 0 ? text : text.slice(0, brace);
  const equals = head.indexOf('=');
  const label = (equals < 0 ? head : head.slice(0, equals)).trim();
  const model = (equals < 0 ? head : head.slice(equals + 1)).trim();
  let options: ModelOptions = {};
  if (brace >= 0) {
    try {
      options = JSON.parse(text.slice(brace)) as ModelOptions;
    } catch (error) {
      throw new UsageError(`--model ${text}: the options are not valid JSON (${(error as Error).message})`);
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new UsageError(`--model ${text}: the options must be a JSON object`);
    }
  }
  if (model.length === 0 || label.length === 0)
    throw new UsageError(`--model ${text}: expected [LABEL=]NAME[JSON]`);
  return { label, model, options };
}

function integerList(name: string, text: string, min: number): number[] {
  const parts = text.split(',').map((part) => part.trim());
  // Number('') is 0: an empty item would silently become seed 0.
  if (parts.some((part) => part.length === 0)) {
    throw new UsageError(`--${name} ${text}: expected comma-separated integers`);
  }
  return parts.map((part) => integerOption(name, part, { min }) as number);
}

/** Rewrites the table and chart from the results so far. */
async function writeTable(dir: string, results: CellResult[]): Promise<void> {
  if (results.length === 0) return;
  const table = summarizeStudy(results);
  const encode = (text: string) => new TextEncoder().encode(text);
  await writeFileAtomic(join(dir, 'results.json'), encode(`${JSON.stringify(table, null, 2)}\n`));
  await writeFileAtomic(join(dir, 'results.md'), encode(studyMarkdown(table)));
  await writeFileAtomic(join(dir, 'top1.svg'), encode(studyChartSvg(table, basename(resolve(dir)))));
}

/** Runs `rla study`; returns the exit code (130 after Ctrl-C, 1 when a cell diverged). */
export async function studyCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, STUDY_USAGE);
  if (values.help) {
    out(STUDY_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}\n\n${STUDY_USAGE}`);
  if (values.out === undefined) throw new UsageError(`--out DIR is required\n\n${STUDY_USAGE}`);
  const specs = (values.model as string[] | undefined) ?? [];
  if (specs.length === 0) throw new UsageError(`at least one --model is required\n\n${STUDY_USAGE}`);
  const dir = String(values.out);
  const grid = {
    models: specs.map(parseStudyModel),
    seeds: integerList('seeds', values.seeds === undefined ? '0,1,2' : String(values.seeds), 0),
    rlaChannels:
      values['rla-channels'] === undefined
        ? []
        : integerList('rla-channels', String(values['rla-channels']), 1),
  };
  const shared = { ...values, 'save-every': values['save-every'] ?? String(DEFAULT_SAVE_EVERY) };
  let cells: ReturnType<typeof expandGrid>;
  try {
    cells = expandGrid(grid, (model, options, seed) =>
      configFrom({ ...shared, model, options: JSON.stringify(options), seed: String(seed) }),
    );
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
  mkdirSync(dir, { recursive: true });
  out(
    `rla study: ${cells.length} cells (${grid.models.length} model(s), seeds ${grid.seeds.join(',')}) in ${dir}`,
  );

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    process.stderr.write('\nCtrl-C: stopping after this batch and saving the cell checkpoint\n');
  };
  process.on('SIGINT', onSigint);
  try {
    const outcome = await runStudy({
      dir,
      cells,
      engine: engineFrom(values),
      threads: values.threads === undefined ? undefined : integerOption('threads', values.threads),
      backend: backendOption(values.backend),
      signal: controller.signal,
      log: out,
      progress: progressReporter(out),
      onResults: (results) => writeTable(dir, results),
    });
    await writeTable(dir, outcome.results);
    if (outcome.status === 'interrupted') {
      out(`stopped in cell ${outcome.cell}; rerun the same command to continue`);
      return 130;
    }
    if (outcome.status === 'diverged') {
      out(`error: cell ${outcome.cell} diverged: ${outcome.message}`);
      return 1;
    }
    out('');
    out(studyMarkdown(summarizeStudy(outcome.results)).trimEnd());
    out(`files      ${join(dir, 'results.md')}, ${join(dir, 'results.json')}, ${join(dir, 'top1.svg')}`);
    return 0;
  } catch (error) {
    if (error instanceof StudyMismatchError || error instanceof TrainingSetupError) {
      throw new UsageError(error.message);
    }
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
