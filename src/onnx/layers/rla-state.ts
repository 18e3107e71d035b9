/** The RLA hidden state as ONNX values (NCHW), and the two things done to it besides the update. */
import type { RLAUpdateRule } from '../../layers/rla-update.js';
import type { AvgPool2d } from '../../nn/pool.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { avgPool } from '../nn.js';

/** h, plus the memory c of the ConvLSTM rule. */
export interface RLAStateValues {
  h: Value;
  c?: Value;
}

/**
 * The all-zero starting state [N, k, H, W], shaped like `like` ([N, *, H, W]) at run time: Shape -> Mul by
 * [1, 0, 1, 1] -> Add [0, k, 0, 0] -> ConstantOfShape (float 0). Computing the shape keeps the graph valid for
 * any batch and image size; ONNX Runtime folds it to a constant when the input shape is fixed.
 */
export function initialState(b: OnnxBuilder, like: Value, k: number, rule: RLAUpdateRule): RLAStateValues {
  return b.scoped('rla_state', () => {
    const shape = b.node('Add', [
      b.node('Mul', [b.node('Shape', [like]), b.int64Values([1, 0, 1, 1])]),
      b.int64Values([0, k, 0, 0]),
    ]);
    const zeros = b.node('ConstantOfShape', [shape]);
    return rule === 'convlstm' ? { h: zeros, c: zeros } : { h: zeros };
  });
}

/** Pools every tensor of the state 2x2/2 (floor), as the blocks that downsample do. */
export function poolState(b: OnnxBuilder, state: RLAStateValues, pool: AvgPool2d): RLAStateValues {
  const h = avgPool(b, state.h, pool);
  return state.c !== undefined ? { h, c: avgPool(b, state.c, pool) } : { h };
}
