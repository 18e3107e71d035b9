/**
 * Writes training logs the way the official train.py does (its `data_save` and the values it hands it), so the
 * readers are tested on that format without PyTorch: after every epoch train.py calls
 * `data_save(path, {epoch: value, ...})` with every epoch of this process so far, and data_save appends the
 * epochs after the file's last one as `str(epoch) + " " + str(value)`. Accuracies are 0-d CUDA tensors (their
 * str is `tensor(76.1230, device='cuda:0')`), the loss a Python float.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PyTorch's str() of a 0-d float tensor on the first GPU: 4 decimals, an integral value as "100.". */
export function torchScalarString(value: number): string {
  const digits = Number.isInteger(value) ? `${value}.` : value.toFixed(4);
  return `tensor(${digits}, device='cuda:0')`;
}

/** train.py's data_save: appends the entries of `values` whose epoch is after the file's last line's epoch. */
function dataSave(path: string, values: Map<number, string>): void {
  if (!existsSync(path)) writeFileSync(path, '');
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  const last = lines.length === 0 ? -1 : Number(lines.at(-1)!.slice(0, lines.at(-1)!.indexOf(' ')));
  for (const [epoch, value] of values) if (epoch > last) appendFileSync(path, `${epoch} ${value}\n`);
}

/** One epoch's numbers: accuracies in percent, the mean training loss. */
export interface OfficialEpoch {
  loss: number;
  trainAcc1: number;
  trainAcc5: number;
  valAcc1: number;
  valAcc5: number;
}

/**
 * Runs train.py's logging for `epochs` (0-based from `startEpoch`, as after `--resume`) into `dir`: one
 * data_save call per file per epoch, with the dicts of this process.
 */
export function writeOfficialLogs(dir: string, epochs: readonly OfficialEpoch[], startEpoch = 0): void {
  mkdirSync(dir, { recursive: true });
  const plots = {
    'loss_plot.txt': new Map<number, string>(),
    'train_acc1.txt': new Map<number, string>(),
    'train_acc5.txt': new Map<number, string>(),
    'val_acc1.txt': new Map<number, string>(),
    'val_acc5.txt': new Map<number, string>(),
  };
  epochs.forEach((e, i) => {
    const epoch = startEpoch + i;
    // str(losses.avg) of a Python float: shortest round-trip digits, an integral value with ".0".
    plots['loss_plot.txt'].set(epoch, Number.isInteger(e.loss) ? `${e.loss}.0` : String(e.loss));
    plots['train_acc1.txt'].set(epoch, torchScalarString(e.trainAcc1));
    plots['train_acc5.txt'].set(epoch, torchScalarString(e.trainAcc5));
    plots['val_acc1.txt'].set(epoch, torchScalarString(e.valAcc1));
    plots['val_acc5.txt'].set(epoch, torchScalarString(e.valAcc5));
    for (const [file, values] of Object.entries(plots)) dataSave(join(dir, file), values);
  });
}
