/**
 * Squeeze-and-Excitation (layers/se.ts) in ONNX: GlobalAveragePool -> 1x1 Conv (fc.0) -> Relu -> 1x1 Conv
 * (fc.2) -> Sigmoid -> Mul. The two Linear layers run as 1x1 convs on [N, C, 1, 1] (same arithmetic, no
 * Flatten/Reshape round trip).
 */
import type { SE } from '../../layers/se.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { globalAvgPool, linearAsConv1x1, mul, relu, sigmoid } from '../nn.js';

/** x: NCHW -> same shape. */
export function se(b: OnnxBuilder, x: Value, module: SE): Value {
  return b.scoped(module, () => {
    const squeezed = relu(b, linearAsConv1x1(b, globalAvgPool(b, x), module.fc.squeeze));
    return mul(b, x, sigmoid(b, linearAsConv1x1(b, squeezed, module.fc.excite)));
  });
}
