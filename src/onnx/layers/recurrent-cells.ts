/**
 * The ablations' recurrent cells (layers/conv-lstm-cell.ts, layers/conv-gru-cell.ts) in primitive ONNX ops:
 * Conv, Split, Sigmoid, Tanh, Mul, Add (and GroupNorm as InstanceNormalization for the GRU). The fused ONNX
 * LSTM/GRU ops are sequence ops over vectors, not convolutional cells, so they do not apply.
 */
import type { ConvGRUCell } from '../../layers/conv-gru-cell.js';
import type { ConvLSTMCell } from '../../layers/conv-lstm-cell.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { add, concatChannels, conv2d, groupNorm, mul, sigmoid, sub, tanh } from '../nn.js';

/** Splits the channel axis into `parts` equal pieces. */
function splitChannels(b: OnnxBuilder, x: Value, channels: number, parts: number): Value[] {
  const sizes = new Array(parts).fill(channels / parts);
  // The sizes go in as an input (opset >= 13); opset 18's num_outputs attribute is not needed.
  return b.nodeMulti('Split', [x, b.int64Values(sizes)], { axis: { kind: 'int', value: 1 } }, parts);
}

/** One ConvLSTM step: gates i, f, o, g from conv(cat(input, h)); c' = f*c + i*g; h' = o*tanh(c'). */
export function convLSTMCell(
  b: OnnxBuilder,
  input: Value,
  state: { h: Value; c: Value },
  cell: ConvLSTMCell,
) {
  return b.scoped(cell, () => {
    const gates = conv2d(b, concatChannels(b, [input, state.h]), cell.conv);
    const [i, f, o, g] = splitChannels(b, gates, 4 * cell.hiddenChannels, 4);
    const c = add(b, mul(b, sigmoid(b, f), state.c), mul(b, sigmoid(b, i), tanh(b, g)));
    return { h: mul(b, sigmoid(b, o), tanh(b, c)), c };
  });
}

/** One ConvGRU step: h' = u*h + (1 - u)*tanh(GN(output_conv(cat(x, r*h)))). */
export function convGRUCell(b: OnnxBuilder, x: Value, h: Value, cell: ConvGRUCell): Value {
  return b.scoped(cell, () => {
    const [r, u] = splitChannels(
      b,
      conv2d(b, concatChannels(b, [x, h]), cell.gateConv),
      2 * cell.hiddenChannels,
      2,
    );
    const reset = sigmoid(b, groupNorm(b, r, cell.resetGateNorm));
    const update = sigmoid(b, groupNorm(b, u, cell.updateGateNorm));
    const candidate = tanh(
      b,
      groupNorm(b, conv2d(b, concatChannels(b, [x, mul(b, reset, h)]), cell.outputConv), cell.outputNorm),
    );
    return add(b, mul(b, update, h), mul(b, sub(b, b.floatValues([1], []), update), candidate));
  });
}
