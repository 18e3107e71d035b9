/** Shape arithmetic shared by every layer of the package (the one element-count helper). */

/** Number of elements of a tensor of `shape` (PyTorch's `numel`); 1 for a scalar's empty shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
