/**
 * Learning-rate schedules with PyTorch's semantics, as closed forms of the epoch (and, for cosine, the iteration):
 * - `multistep`: MultiStepLR — lr * gamma^(number of milestones <= epoch)      (CIFAR: [150, 225], 0.1)
 * - `step`: StepLR — lr * gamma^floor(epoch / stepSize)                          (ImageNet: 30, 0.1)
 * - `exponential`: ExponentialLR — lr * gamma^epoch                             (MobileNetV2: 0.98)
 * - `cosine`: per iteration, LinearLR warm-up from `warmupStartFactor * lr` over `warmupEpochs`, then
 *   CosineAnnealingLR to `minLr` over the remaining iterations (SequentialLR of the two, stepped every batch).
 * - `constant`.
 * `epoch` is 0-based like PyTorch's `last_epoch` after `scheduler.step()` calls at epoch ends.
 */

export type ScheduleSpec =
  | { kind: 'constant' }
  | { kind: 'multistep'; milestones: number[]; gamma: number }
  | { kind: 'step'; stepSize: number; gamma: number }
  | { kind: 'exponential'; gamma: number }
  | { kind: 'cosine'; warmupEpochs: number; warmupStartFactor: number; minLr: number };

/** Schedule kinds accepted by `--schedule`. */
export const SCHEDULE_KINDS = ['constant', 'multistep', 'step', 'exponential', 'cosine'] as const;

/** Where training is: epoch (0-based), batch within it, batches per epoch, total epochs. */
export interface SchedulePosition {
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  epochs: number;
}

/** Learning rate of the update at `position` for base rate `lr`. */
export function learningRate(spec: ScheduleSpec, lr: number, position: SchedulePosition): number {
  const { epoch } = position;
  switch (spec.kind) {
    case 'constant':
      return lr;
    case 'multistep':
      return lr * spec.gamma ** spec.milestones.filter((m) => m <= epoch).length;
    case 'step':
      return lr * spec.gamma ** Math.floor(epoch / spec.stepSize);
    case 'exponential':
      return lr * spec.gamma ** epoch;
    case 'cosine': {
      const t = epoch * position.batchesPerEpoch + position.batch;
      const warmup = Math.round(spec.warmupEpochs * position.batchesPerEpoch);
      if (t < warmup) return lr * (spec.warmupStartFactor + ((1 - spec.warmupStartFactor) * t) / warmup);
      const span = position.epochs * position.batchesPerEpoch - warmup;
      if (span <= 0) return lr;
      return spec.minLr + ((lr - spec.minLr) * (1 + Math.cos((Math.PI * (t - warmup)) / span))) / 2;
    }
  }
}

/** Checks a schedule's parameters; returns a message per problem. */
export function scheduleProblems(spec: ScheduleSpec): string[] {
  const problems: string[] = [];
  if ('gamma' in spec && !(spec.gamma > 0)) problems.push(`schedule gamma must be > 0, got ${spec.gamma}`);
  if (
    spec.kind === 'multistep' &&
    !spec.milestones.every((m, i) => Number.isInteger(m) && m > 0 && (i === 0 || m > spec.milestones[i - 1]))
  ) {
    problems.push(`milestones must be increasing positive integers, got [${spec.milestones}]`);
  }
  if (spec.kind === 'step' && !(Number.isInteger(spec.stepSize) && spec.stepSize > 0)) {
    problems.push(`step size must be a positive integer, got ${spec.stepSize}`);
  }
  if (spec.kind === 'cosine') {
    if (!(spec.warmupEpochs >= 0)) problems.push(`warm-up epochs must be >= 0, got ${spec.warmupEpochs}`);
    if (!(spec.warmupStartFactor > 0 && spec.warmupStartFactor <= 1)) {
      problems.push(`warm-up start factor must be in (0, 1], got ${spec.warmupStartFactor}`);
    }
    if (!(spec.minLr >= 0)) problems.push(`minimum lr must be >= 0, got ${spec.minLr}`);
  }
  return problems;
}

/** One-line description, e.g. `multistep [150, 225] x0.1`. */
export function describeSchedule(spec: ScheduleSpec): string {
  switch (spec.kind) {
    case 'constant':
      return 'constant';
    case 'multistep':
      return `multistep [${spec.milestones.join(', ')}] x${spec.gamma}`;
    case 'step':
      return `step every ${spec.stepSize} epochs x${spec.gamma}`;
    case 'exponential':
      return `x${spec.gamma} per epoch`;
    case 'cosine':
      return `cosine to ${spec.minLr}${spec.warmupEpochs > 0 ? ` after ${spec.warmupEpochs} warm-up epochs` : ''}`;
  }
}
