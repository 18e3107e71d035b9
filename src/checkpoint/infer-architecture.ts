/**
 * Infers the registry model (name + options) that a state dict belongs to, from its key names and shapes, for
 * `rla convert` / `rla run` without `--model`. Only structural facts are used; the caller verifies the guess by
 * building the model and comparing every key and shape.
 */
import type { ModelOptions } from '../models/registry.js';

export interface InferredArchitecture {
  name: string;
  options: ModelOptions;
  /** One line saying why, printed by the CLI. */
  reason: string;
}

type Shapes = ReadonlyMap<string, readonly number[]>;

const STANDARD_DEPTHS: Array<[string, number[]]> = [
  ['50', [3, 4, 6, 3]],
  ['101', [3, 4, 23, 3]],
  ['152', [3, 8, 36, 3]],
];

function countBlocks(shapes: Shapes, stageKey: (s: number, b: number) => string): number[] {
  return [0, 1, 2, 3].map((s) => {
    let b = 0;
    while (shapes.has(stageKey(s, b))) b++;
    return b;
  });
}

function inferResNetFamily(shapes: Shapes, rla: boolean): InferredArchitecture {
  const blockKey = rla
    ? (s: number, b: number) => `stages.${s}.${b}`
    : (s: number, b: number) => `layer${s + 1}.${b}`;
  const layers = countBlocks(shapes, (s, b) => `${blockKey(s, b)}.conv1.weight`);
  const conv2 = shapes.get(`${blockKey(0, 0)}.conv2.weight`);
  const fc = shapes.get('fc.weight');
  if (!conv2 || !fc || layers.some((n) => n === 0)) {
    throw new Error('looks like a ResNet but stage blocks or fc.weight are missing');
  }
  const width = conv2[0];
  const groups = width / conv2[1];
  const resnext = groups === 32;
  if (groups !== 1 && !resnext)
    throw new Error(`unsupported ResNet cardinality ${groups} (1 or 32 are registered)`);
  const widthPerGroup = width / groups;
  const depth = STANDARD_DEPTHS.find(([, l]) => l.every((n, i) => n === layers[i]))?.[0];
  const se = shapes.has(`${blockKey(0, 0)}.se.fc.0.weight`);
  const ecaSizes = [0, 1, 2, 3].map((s) => shapes.get(`${blockKey(s, 0)}.eca.conv.weight`)?.[2]);
  const eca = ecaSizes.every((k) => k !== undefined);
  const options: ModelOptions = { numClasses: fc[0] };
  if (!depth) options.layers = layers;
  if (widthPerGroup !== (resnext ? 4 : 64)) options.widthPerGroup = widthPerGroup;
  if (eca && ecaSizes.join() !== '5,5,5,7') options.ecaKernelSizes = ecaSizes as number[];
  if (rla) {
    const convOut = shapes.get('conv_outs.0.weight');
    if (!convOut) throw new Error('RLA-ResNet keys without conv_outs.0.weight');
    if (convOut[0] !== 32) options.rlaChannel = convOut[0];
  }
  const base = resnext ? `resnext${depth ?? '50'}_32x4d` : `resnet${depth ?? '50'}`;
  const name = `${rla ? 'rla_' : ''}${base}${se ? '_se' : eca ? '_eca' : ''}`;
  const ablationNote = rla ? '; rlav1-v6 share these keys: pass --model to pick an ablation' : '';
  return {
    name,
    options,
    reason: `keys ${rla ? 'stages.*/conv_outs.*/recurrent_convs.*' : 'layer1-4.*'}, blocks per stage [${layers}], width ${width}, groups ${groups}${se ? ', SE' : ''}${eca ? `, ECA [${ecaSizes}]` : ''}${ablationNote}`,
  };
}

const MOBILENET_WIDTHS = [1.0, 0.5, 0.75, 0.35, 1.4, 1.3, 0.25];
const NAMED_K = new Set([6, 12, 24, 32]);

/** `_make_divisible(v, 8)` of the official MobileNetV2. */
function makeDivisible(value: number, divisor = 8): number {
  const rounded = Math.max(
    divisor,
    Math.floor(value + divisor / 2) - (Math.floor(value + divisor / 2) % divisor),
  );
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}

function inferRlaMobileNet(shapes: Shapes, depthwise: boolean): InferredArchitecture {
  const convOut = shapes.get('conv_outs.0.weight');
  const stem = shapes.get('conv1.0.weight');
  const classifier = shapes.get('classifier.1.weight');
  if (!convOut || !stem || !classifier)
    throw new Error('looks like an RLA-MobileNetV2 but conv_outs/conv1/classifier are missing');
  const k = convOut[0];
  const widthMult = MOBILENET_WIDTHS.find((w) => makeDivisible(32 * w) === stem[0]) ?? 1.0;
  const eca = [...shapes.keys()].some((key) => key.includes('.eca.') || key.endsWith('conv.3.conv.weight'));
  const family = depthwise ? 'dsrla_mobilenetv2' : 'rla_mobilenetv2';
  const name = `${family}${NAMED_K.has(k) ? `_k${k}` : ''}${eca ? '_eca' : ''}`;
  const options: ModelOptions = { numClasses: classifier[0] };
  if (widthMult !== 1.0) options.widthMult = widthMult;
  if (!NAMED_K.has(k)) options.rlaChannel = k;
  return {
    name,
    options,
    reason: `keys ${depthwise ? 'recurrent_dsconvs' : 'recurrent_convs'}.*/conv_outs.* with a MobileNetV2 stem, k ${k}, stem ${stem[0]} channels${eca ? ', ECA' : ''}`,
  };
}

/** Guesses the architecture of a state dict (keys -> PyTorch-layout shapes). Throws when nothing fits. */
export function inferArchitecture(shapes: Shapes): InferredArchitecture {
  if (shapes.has('stages.0.0.conv1.weight') && shapes.has('recurrent_convs.0.weight'))
    return inferResNetFamily(shapes, true);
  if (shapes.has('layer1.0.conv1.weight')) return inferResNetFamily(shapes, false);
  if (shapes.has('recurrent_dsconvs.0.weight')) return inferRlaMobileNet(shapes, true);
  if (shapes.has('conv1.0.weight') && shapes.has('recurrent_convs.0.weight'))
    return inferRlaMobileNet(shapes, false);
  const sample = [...shapes.keys()].slice(0, 5).join(', ');
  throw new Error(`cannot infer the architecture from keys (${sample}, ...): pass --model <name>`);
}
