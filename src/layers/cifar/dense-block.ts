/**
 * DenseNet-BC dense blocks (Huang et al. 2017) and the weight-shared variants of the RLA paper's §3.2.
 *
 * Layer t of a block reads every earlier feature map x^0 (the block input), x^1, ..., x^{t-1} and computes
 * conv3x3(relu(bn2(conv1x1(relu(bn1(cat(x^0, ..., x^{t-1}))))))). The 1x1 conv on the concatenation is a sum of
 * one 1x1 conv per source, W^t_l x^l; the paper's variants share those per-source weights:
 * - `none`: every W^t_l is its own weight (DenseNet-BC);
 * - `lag` (eq. 9): W^t_l = W_{t-l}, one weight per lag, shared by all layers;
 * - `ordinal` (eq. 10): W^t_l = W_l, one weight per source layer, shared by all the layers that read it.
 * The weights applied to x^0 stay per layer in both shared variants: x^0 has a different width (24, 108 or 150
 * channels) from the growth-rate-wide x^l (l >= 1). BN and the 3x3 conv stay per layer (they are not part of the
 * aggregation eq. 9 and 10 share). Names: layers.{t}.{bn1, conv1, bn2, conv2}, shared_convs.{j}.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../../nn/batchnorm.js';
import { Conv2d } from '../../nn/conv.js';
import type { Rng } from '../../nn/init.js';
import { Module, ModuleList } from '../../nn/module.js';
import { activeCounter, recordMacs } from '../../nn/op-counter.js';
import { AvgPool2d } from '../../nn/pool.js';
import { activeTracer } from '../../nn/trace-hook.js';
import { numel } from '../../util/shape.js';

/** Which per-source 1x1 weights a dense block shares across its layers. */
export type DenseSharing = 'none' | 'lag' | 'ordinal';

export const DENSE_SHARINGS: readonly DenseSharing[] = ['none', 'lag', 'ordinal'];

/** One BN-ReLU-1x1-BN-ReLU-3x3 layer. In shared blocks `conv1` covers only the x^0 slice of the 1x1 weight. */
export class DenseLayer extends Module {
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;

  constructor(
    inChannels: number,
    conv1InChannels: number,
    growthRate: number,
    bottleneckWidth: number,
    rng: Rng,
  ) {
    super();
    this.bn1 = this.addModule('bn1', new BatchNorm2d(inChannels));
    this.conv1 = this.addModule('conv1', new Conv2d(conv1InChannels, bottleneckWidth, 1, rng));
    this.bn2 = this.addModule('bn2', new BatchNorm2d(bottleneckWidth));
    this.conv2 = this.addModule('conv2', new Conv2d(bottleneckWidth, growthRate, 3, rng, { padding: 1 }));
  }
}

export interface DenseBlockConfig {
  inChannels: number;
  numLayers: number;
  growthRate: number;
  /** Width of the 1x1 bottleneck (4 x growth rate in DenseNet-BC). */
  bottleneckWidth: number;
  sharing: DenseSharing;
}

export class DenseBlock extends Module {
  readonly layers: ModuleList<DenseLayer>;
  /** The shared growth-rate -> bottleneck 1x1 weights: index lag - 1 (`lag`) or source - 1 (`ordinal`). */
  readonly sharedConvs: ModuleList<Conv2d> | null;
  readonly outChannels: number;

  constructor(
    readonly config: DenseBlockConfig,
    rng: Rng,
  ) {
    super();
    const { inChannels, numLayers, growthRate, bottleneckWidth, sharing } = config;
    if (!DENSE_SHARINGS.includes(sharing)) {
      throw new Error(`dense sharing must be one of ${DENSE_SHARINGS.join(', ')}, got ${sharing}`);
    }
    this.outChannels = inChannels + numLayers * growthRate;
    this.layers = this.addModule(
      'layers',
      new ModuleList(
        Array.from({ length: numLayers }, (_, t) => {
          const input = inChannels + t * growthRate;
          return new DenseLayer(
            input,
            sharing === 'none' ? input : inChannels,
            growthRate,
            bottleneckWidth,
            rng,
          );
        }),
      ),
    );
    this.sharedConvs =
      sharing === 'none'
        ? null
        : this.addModule(
            'shared_convs',
            new ModuleList(
              Array.from({ length: numLayers - 1 }, () => new Conv2d(growthRate, bottleneckWidth, 1, rng)),
            ),
          );
  }

  /** cat(x^0, x^1, ..., x^L) for the NHWC block input x^0. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let features = x;
      this.layers.items.forEach((layer, t) => {
        const activated = tf.relu(layer.bn1.forward(features));
        const bottleneck = tf.relu(layer.bn2.forward(this.pointwise(layer, t, activated)));
        features = tf.concat([features, layer.conv2.forward(bottleneck)], 3);
      });
      return features;
    });
  }

  /** Layer t's 1x1 conv over cat(x^0, ..., x^t-1), assembled from its per-source weights where they are shared. */
  private pointwise(layer: DenseLayer, t: number, x: tf.Tensor4D): tf.Tensor4D {
    const shared = this.sharedConvs;
    if (!shared) return layer.conv1.forward(x);
    const tracer = activeTracer();
    if (tracer) return tracer.call(this, [x], { layer: t } satisfies DensePointwiseCall) as tf.Tensor4D;
    const [n, height, width, channels] = x.shape;
    const outShape: [number, number, number, number] = [n, height, width, this.config.bottleneckWidth];
    // thop counts each per-source conv call; together they cost exactly one 1x1 conv over the concatenation.
    recordMacs(numel(outShape) * channels);
    if (activeCounter()?.shapeOnly) return tf.zeros(outShape);
    return tf.tidy(() => {
      // Source l >= 1 (channels of x^l) uses the weight of its lag t + 1 - l or of its ordinal l.
      const slices = [layer.conv1.weight.value];
      for (let l = 1; l <= t; l++) {
        const index = this.config.sharing === 'lag' ? t - l : l - 1;
        slices.push(shared.at(index).weight.value);
      }
      return tf.conv2d(x, tf.concat(slices, 2) as tf.Tensor4D, 1, 'valid');
    });
  }
}

/** What a tracer receives with a DenseBlock call: the assembled 1x1 conv of layer `layer` (see `pointwise`). */
export interface DensePointwiseCall {
  layer: number;
}

/** DenseNet-BC transition: BN-ReLU-1x1 conv (compression) then 2x2 average pooling. Names: bn, conv. */
export class DenseTransition extends Module {
  readonly bn: BatchNorm2d;
  readonly conv: Conv2d;
  readonly pool = new AvgPool2d(2, 2);

  constructor(inChannels: number, outChannels: number, rng: Rng) {
    super();
    this.bn = this.addModule('bn', new BatchNorm2d(inChannels));
    this.conv = this.addModule('conv', new Conv2d(inChannels, outChannels, 1, rng));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.pool.forward(this.conv.forward(tf.relu(this.bn.forward(x)))));
  }
}
