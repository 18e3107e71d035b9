/**
 * Matrix transposes that stay fast on the wasm backend.
 *
 * The wasm Transpose kernel walks the input in order and writes the output with a stride of one input-row count.
 * When that count is a multiple of a large power of two (128*32*32 pixels, 512 channels...) every write of a run
 * lands in the same cache set and the transpose runs ~12x slower (125 ms instead of 10 ms for 8 M floats).
 * Padding the row count to an odd multiple of 16 floats spreads the writes over all sets; the padding columns are
 * cut off afterwards with a heap-view slice.
 */
import * as tf from '@tensorflow/tfjs-core';
import { numel } from '../../util/shape.js';

/** Smaller transposes are cache-resident whatever their shape. */
const MIN_PADDED_SIZE = 1 << 16;

/** The row count to transpose with: `rows` itself, or the next odd multiple of 16 when `rows` aliases. */
export function aliasFreeRows(rows: number, columns: number): number {
  if (rows * columns < MIN_PADDED_SIZE || rows % 32 === 16) return rows;
  const padded = Math.ceil(rows / 16) * 16;
  return (padded / 16) % 2 === 1 ? padded : padded + 16;
}

/** `x` with its last two axes swapped: [..., r, c] -> [..., c, r]. */
export function swapLastAxes<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const shape = x.shape;
    const rank = shape.length;
    if (rank < 2) throw new Error(`swapLastAxes: rank ${rank} < 2`);
    const rows = shape[rank - 2];
    const columns = shape[rank - 1];
    const batch = numel(shape.slice(0, -2));
    const paddedRows = aliasFreeRows(rows, columns);
    let matrices = tf.reshape(x, [batch, rows, columns]) as tf.Tensor3D;
    if (paddedRows !== rows) {
      matrices = tf.pad(matrices, [
        [0, 0],
        [0, paddedRows - rows],
        [0, 0],
      ]);
    }
    let swapped: tf.Tensor3D =
      batch === 1
        ? (tf.reshape(tf.transpose(tf.reshape(matrices, [paddedRows, columns])), [
            1,
            columns,
            paddedRows,
          ]) as tf.Tensor3D)
        : tf.transpose(matrices, [0, 2, 1]);
    if (paddedRows !== rows) swapped = tf.slice(swapped, [0, 0, 0], [batch, columns, rows]);
    return tf.reshape(swapped, [...shape.slice(0, -2), columns, rows]) as T;
  });
}
