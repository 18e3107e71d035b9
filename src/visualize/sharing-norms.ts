/**
 * The paper's Figure 2: how much each lag contributes in a weight-shared DenseNet. For every dense block, the L1
 * norm (sum of |w|) of the 1x1 weights that read an earlier layer's output x^l, by the lag between reader and
 * source (`lag` sharing: one weight per lag, shared_convs.{lag-1}), by the source's position (`ordinal`:
 * shared_convs.{l-1}), or, for DenseNet-BC without sharing, by lag averaged over the per-layer slices W^t_l that
 * have that lag. The block input x^0 is left out: its weights are per layer and wider in every variant.
 */
import type { DenseBlock } from '../layers/cifar/dense-block.js';
import { CifarDenseNet } from '../models/cifar/densenet.js';
import type { ClassifierModel } from '../models/classifier.js';
import type { ChartSpec } from '../train/chart-layout.js';

/** One block's norms: `l1[i]` belongs to lag (or source) `positions[i]`, 1-based. */
export interface BlockNorms {
  block: string;
  positions: number[];
  l1: number[];
}

export interface SharingNorms {
  sharing: 'none' | 'lag' | 'ordinal';
  /** What `positions` count: lag t - l + 1 between layer t (0-based) and source x^l, or the source index l. */
  axis: 'lag' | 'source layer';
  blocks: BlockNorms[];
}

function l1(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.abs(values[i]);
  return sum;
}

/** Norms of one block. Conv weights are stored [kh, kw, in, out] (1x1 here: in x out). */
function blockNorms(block: DenseBlock, name: string): BlockNorms {
  const { sharing, numLayers, growthRate, inChannels, bottleneckWidth } = block.config;
  if (block.sharedConvs) {
    const l1s = block.sharedConvs.items.map((conv) => l1(conv.weight.value.dataSync()));
    return { block: name, positions: l1s.map((_, i) => i + 1), l1: l1s };
  }
  if (sharing !== 'none') throw new Error(`dense block ${name}: ${sharing} sharing without shared weights`);
  // Layer t's input channels: x^0 (inChannels), then x^1 ... x^t (growthRate each); lag of x^l is t - l + 1.
  const sums = new Array<number>(numLayers - 1).fill(0);
  const counts = new Array<number>(numLayers - 1).fill(0);
  block.layers.items.forEach((layer, t) => {
    const weight = layer.conv1.weight.value.dataSync();
    for (let l = 1; l <= t; l++) {
      let sum = 0;
      for (let c = inChannels + (l - 1) * growthRate; c < inChannels + l * growthRate; c++) {
        for (let o = 0; o < bottleneckWidth; o++) sum += Math.abs(weight[c * bottleneckWidth + o]);
      }
      sums[t - l] += sum;
      counts[t - l] += 1;
    }
  });
  return { block: name, positions: sums.map((_, i) => i + 1), l1: sums.map((s, i) => s / counts[i]) };
}

/** The norms of every dense block of a CIFAR DenseNet (any sharing). */
export function sharingNorms(model: ClassifierModel): SharingNorms {
  if (!(model instanceof CifarDenseNet)) {
    throw new Error(
      `sharing norms need a CIFAR DenseNet (densenet_bc100_sharedlag_cifar, ..._sharedordinal_cifar or densenet_bc100_cifar), got ${model.registryName ?? model.constructor.name}`,
    );
  }
  const { sharing } = model.config;
  return {
    sharing,
    axis: sharing === 'ordinal' ? 'source layer' : 'lag',
    blocks: model.blocks.map((block, b) => blockNorms(block, `dense${b + 1}`)),
  };
}

const BLOCK_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];

/** The norms as a line chart: one curve per dense block. */
export function sharingNormsChart(norms: SharingNorms, title: string): ChartSpec {
  const what =
    norms.sharing === 'none'
      ? 'mean L1 norm of W^t_l by lag (no sharing)'
      : `L1 norm of the shared weights by ${norms.axis} (Shared-${norms.sharing === 'lag' ? 'Lag' : 'Ordinal'})`;
  return {
    series: norms.blocks.map((block, i) => ({
      name: block.block,
      points: block.positions.map((p, k) => [p, block.l1[k]] as [number, number]),
      color: BLOCK_COLORS[i % BLOCK_COLORS.length],
    })),
    options: { title: `${title}: ${what}`, xLabel: norms.axis, yLabel: 'L1 norm' },
  };
}
