/** How an int8 model's predictions compare with its float32 original on labelled images. */
import type { DataLoader } from '../data/loader.js';
import type { OnnxClassifier } from '../onnx/session.js';

export interface Agreement {
  count: number;
  /** Share of images whose top-1 class is the same under both models. */
  top1Agreement: number;
  floatTop1: number;
  quantizedTop1: number;
}

function argmaxRows(logits: Float32Array, rows: number): Int32Array {
  const classes = logits.length / rows;
  const result = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[r * classes + c] > logits[r * classes + best]) best = c;
    result[r] = best;
  }
  return result;
}

/** Runs both sessions over one epoch of `loader` (not shuffled) and compares their top-1 predictions. */
export async function compareTop1(
  float32: OnnxClassifier,
  quantized: OnnxClassifier,
  loader: DataLoader,
): Promise<Agreement> {
  let count = 0;
  let same = 0;
  let floatCorrect = 0;
  let quantizedCorrect = 0;
  for await (const batch of loader.epoch(0)) {
    const shape = [batch.size, batch.imageSize, batch.imageSize, 3] as const;
    const a = argmaxRows(await float32.runNhwc(batch.x, shape), batch.size);
    const b = argmaxRows(await quantized.runNhwc(batch.x, shape), batch.size);
    for (let i = 0; i < batch.size; i++) {
      if (a[i] === b[i]) same++;
      if (a[i] === batch.labels[i]) floatCorrect++;
      if (b[i] === batch.labels[i]) quantizedCorrect++;
    }
    count += batch.size;
  }
  if (count === 0) throw new Error('no images to compare the models on');
  return {
    count,
    top1Agreement: same / count,
    floatTop1: floatCorrect / count,
    quantizedTop1: quantizedCorrect / count,
  };
}
