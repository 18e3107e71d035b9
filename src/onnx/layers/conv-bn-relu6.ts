/** MobileNetV2's ConvBNReLU (layers/conv-bn-relu6.ts) in ONNX: Conv (BN folded) -> Clip(0, 6). */
import type { ConvBNReLU6 } from '../../layers/conv-bn-relu6.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { conv2d, relu6 } from '../nn.js';

/** x: NCHW -> relu6(bn(conv(x))). */
export function convBNReLU6(b: OnnxBuilder, x: Value, module: ConvBNReLU6): Value {
  return b.scoped(module, () => relu6(b, conv2d(b, x, module.conv, module.bn)));
}
