/**
 * The RLA hidden-state update (layers/rla-update.ts) in ONNX, every rule of the official code. With
 * u = conv_out(y): add-before h <- rec(tanh(BN(h + u))); add-after h <- rec(tanh(BN(h))) + u; post-activation
 * h <- tanh(BN(rec(h + u))); convlstm / convgru feed tanh(BN(u)) to the cell. Where a BN directly follows a conv
 * (post-activation, convlstm, convgru) it is folded like any conv + BN.
 */
import { ConvGRUCell } from '../../layers/conv-gru-cell.js';
import { ConvLSTMCell } from '../../layers/conv-lstm-cell.js';
import type { RecurrentModule, RLACell, RLAUpdateRule } from '../../layers/rla-update.js';
import { Conv2d } from '../../nn/conv.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { add, batchNorm, conv2d, tanh } from '../nn.js';
import { convGRUCell, convLSTMCell } from './recurrent-cells.js';
import type { RLAStateValues } from './rla-state.js';

function expectRecurrent<T extends RecurrentModule>(
  cell: RLACell,
  kind: abstract new (...args: never[]) => T,
  rule: RLAUpdateRule,
): T {
  if (!(cell.recurrent instanceof kind)) {
    throw new Error(`RLA update rule ${rule} needs a ${kind.name} as its recurrent module`);
  }
  return cell.recurrent;
}

/** One RLA update after a block; `y` is the aggregated value (NCHW). */
export function rlaUpdate(
  b: OnnxBuilder,
  state: RLAStateValues,
  y: Value,
  cell: RLACell,
  rule: RLAUpdateRule,
): RLAStateValues {
  return b.scoped(cell.bn, () => {
    const { h } = state;
    switch (rule) {
      case 'add-before': {
        const conv = expectRecurrent(cell, Conv2d, rule);
        return { h: conv2d(b, tanh(b, batchNorm(b, add(b, h, conv2d(b, y, cell.convOut)), cell.bn)), conv) };
      }
      case 'add-after': {
        const conv = expectRecurrent(cell, Conv2d, rule);
        return { h: add(b, conv2d(b, tanh(b, batchNorm(b, h, cell.bn)), conv), conv2d(b, y, cell.convOut)) };
      }
      case 'post-activation': {
        const conv = expectRecurrent(cell, Conv2d, rule);
        return { h: tanh(b, conv2d(b, add(b, h, conv2d(b, y, cell.convOut)), conv, cell.bn)) };
      }
      case 'convlstm': {
        const lstm = expectRecurrent(cell, ConvLSTMCell, rule);
        if (state.c === undefined) throw new Error('the convlstm RLA update needs the memory state c');
        return convLSTMCell(b, tanh(b, conv2d(b, y, cell.convOut, cell.bn)), { h, c: state.c }, lstm);
      }
      case 'convgru': {
        const gru = expectRecurrent(cell, ConvGRUCell, rule);
        return { h: convGRUCell(b, tanh(b, conv2d(b, y, cell.convOut, cell.bn)), h, gru) };
      }
    }
  });
}
