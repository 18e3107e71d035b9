/** The CIFAR models' shared head (models/cifar/head.ts) in ONNX: GAP of x or cat(x, head(h)), then fc. */
import type { CifarRLAPath } from '../../../layers/cifar/rla-path.js';
import type { Linear } from '../../../nn/linear.js';
import type { OnnxBuilder, Value } from '../../builder.js';
import { cifarRLAHead } from '../../layers/cifar/rla-path.js';
import { concatChannels, flatten, globalAvgPool, linear } from '../../nn.js';
import type { OnnxSink } from '../emitter.js';

/** Logits from the backbone's x (and h for RLA models); reports `head.h` and `head.features`. */
export function cifarHead(
  b: OnnxBuilder,
  x: Value,
  h: Value | null,
  rla: CifarRLAPath | null,
  fc: Linear,
  sink: OnnxSink,
): Value {
  let features = x;
  if (rla) {
    if (h === null) throw new Error('an RLA model head needs the hidden state h');
    const head = cifarRLAHead(b, rla, h);
    sink('head.h', head);
    features = concatChannels(b, [x, head]);
  }
  const flat = flatten(b, globalAvgPool(b, features));
  sink('head.features', flat);
  return linear(b, flat, fc);
}
