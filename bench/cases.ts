/**
 * The benchmark's cases (issue 5) and the PyTorch numbers they are compared with (../shared/spec/peers.md:
 * official PyTorch 1.13.1 CPU, 2 threads, on this kind of 2-vCPU Zen 4 machine).
 */
import type { ModelOptions } from '../src/models/index.js';

export type CaseName =
  | 'train-cifar-b128'
  | 'train-rla_resnet50-b16'
  | 'infer-rla_resnet50-b1'
  | 'infer-rla_resnet50-b16'
  | 'infer-dsrla_mobilenetv2_k32-b1'
  | 'infer-dsrla_mobilenetv2_k32-b16';

export interface CaseSpec {
  name: CaseName;
  kind: 'train' | 'infer';
  model: string;
  options: ModelOptions;
  /** Square input size. */
  size: number;
  batch: number;
  /** PyTorch img/s on the peers' machine. */
  pytorch: number;
}

/** SGD of the training cases: train.py's hyper-parameters with Nesterov momentum. */
export const BENCH_SGD = { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: true };

export const CASES: readonly CaseSpec[] = [
  {
    name: 'train-cifar-b128',
    kind: 'train',
    model: 'rla_resnet50',
    options: { layers: [3, 3, 3, 3], numClasses: 10 },
    size: 32,
    batch: 128,
    pytorch: 223,
  },
  {
    name: 'train-rla_resnet50-b16',
    kind: 'train',
    model: 'rla_resnet50',
    options: {},
    size: 224,
    batch: 16,
    pytorch: 4.83,
  },
  {
    name: 'infer-rla_resnet50-b1',
    kind: 'infer',
    model: 'rla_resnet50',
    options: {},
    size: 224,
    batch: 1,
    pytorch: 14.6,
  },
  {
    name: 'infer-rla_resnet50-b16',
    kind: 'infer',
    model: 'rla_resnet50',
    options: {},
    size: 224,
    batch: 16,
    pytorch: 11.7,
  },
  {
    name: 'infer-dsrla_mobilenetv2_k32-b1',
    kind: 'infer',
    model: 'dsrla_mobilenetv2_k32',
    options: {},
    size: 224,
    batch: 1,
    pytorch: 18.2,
  },
  {
    name: 'infer-dsrla_mobilenetv2_k32-b16',
    kind: 'infer',
    model: 'dsrla_mobilenetv2_k32',
    options: {},
    size: 224,
    batch: 16,
    pytorch: 27.6,
  },
];

export const ENGINES = ['tfjs-wasm', 'tfjs-cpu', 'ort'] as const;
export type Engine = (typeof ENGINES)[number];

/** One measurement to make: a case on an engine with a number of worker threads. */
export interface RunSpec {
  case: CaseName;
  engine: Engine;
  workers: number;
  /** Wall-clock budget for the timed runs, seconds (warm-up not included). */
  budgetSeconds: number;
  minRuns: number;
}
