/**
 * ECA channel attention (layers/eca.ts) in ONNX: GlobalAveragePool -> Reshape to [N, 1, C] -> Conv1d over
 * the channel axis -> Sigmoid -> Reshape to [N, C, 1, 1] -> Mul.
 */
import type { ECA } from '../../layers/eca.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { conv1d, globalAvgPool, mul, sigmoid } from '../nn.js';

/** x: NCHW -> same shape. */
export function eca(b: OnnxBuilder, x: Value, module: ECA): Value {
  return b.scoped(module, () => {
    // Reshape's 0 copies the batch dimension, so the graph works for any batch size.
    const sequence = b.node('Reshape', [globalAvgPool(b, x), b.int64Values([0, 1, -1])]);
    const attention = sigmoid(b, conv1d(b, sequence, module.conv));
    return mul(b, x, b.node('Reshape', [attention, b.int64Values([0, -1, 1, 1])]));
  });
}
