/**
 * DenseNet-BC dense blocks and transitions (layers/cifar/dense-block.ts) in ONNX. Layer t: BN-ReLU on the
 * concatenation, 1x1 conv (with bn2 folded in), ReLU, 3x3 conv, Concat. In the weight-shared variants the 1x1
 * weight over cat(x^0..x^{t-1}) is assembled from the per-source weights once, at export time, so the graph
 * runs one conv per layer, exactly like the TF.js model.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DenseBlock, DenseLayer, DenseTransition } from '../../../layers/cifar/dense-block.js';
import { toTorchLayout } from '../../../nn/tensor-layout.js';
import type { OnnxBuilder, Value } from '../../builder.js';
import {
  avgPool,
  batchNorm,
  type ConvWeightOverride,
  concatChannels,
  conv2d,
  convWeight,
  relu,
} from '../../nn.js';

/** Layer t's 1x1 weight over the concatenation, from its per-source weights (shared variants only). */
function assembledWeight(block: DenseBlock, layer: DenseLayer, t: number): ConvWeightOverride | null {
  const shared = block.sharedConvs;
  if (!shared) return null;
  const { inChannels, growthRate, sharing } = block.config;
  const sources = [layer.conv1];
  for (let l = 1; l <= t; l++) sources.push(shared.at(sharing === 'lag' ? t - l : l - 1));
  return {
    inChannels: inChannels + t * growthRate,
    key: 'assembled',
    // Training graphs concatenate the parameters themselves (OIHW: inputs on axis 1), so each gets its gradient.
    build: (b) =>
      concatChannels(
        b,
        sources.map((conv) => convWeight(b, conv)),
      ),
    weight: () =>
      tf.tidy(() => {
        // Source l >= 1 uses the weight of its lag t - l (index) or of its ordinal l - 1, as DenseBlock does.
        const slices = [layer.conv1.weight.value];
        for (let l = 1; l <= t; l++) slices.push(shared.at(sharing === 'lag' ? t - l : l - 1).weight.value);
        const torch = toTorchLayout(tf.concat(slices, 2), { kind: 'conv2d', groups: 1 });
        return Float32Array.from(torch.dataSync() as Float32Array);
      }),
  };
}

/** cat(x^0, x^1, ..., x^L). */
export function denseBlock(b: OnnxBuilder, x: Value, block: DenseBlock): Value {
  return b.scoped(block, () => {
    let features = x;
    block.layers.items.forEach((layer, t) => {
      b.scoped(layer, () => {
        const activated = relu(b, batchNorm(b, features, layer.bn1));
        const bottleneck = relu(
          b,
          conv2d(b, activated, layer.conv1, layer.bn2, assembledWeight(block, layer, t)),
        );
        features = concatChannels(b, [features, conv2d(b, bottleneck, layer.conv2)]);
      });
    });
    return features;
  });
}

/** BN-ReLU-1x1 conv, then 2x2 average pooling. */
export function denseTransition(b: OnnxBuilder, x: Value, transition: DenseTransition): Value {
  return b.scoped(transition, () =>
    avgPool(b, conv2d(b, relu(b, batchNorm(b, x, transition.bn)), transition.conv), transition.pool),
  );
}
