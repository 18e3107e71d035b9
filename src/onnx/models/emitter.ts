/** The contract of a model's ONNX emitter, mirroring `ClassifierModel.runBackbone` / `runHead`. */
import type { ClassifierModel } from '../../models/classifier.js';
import type { OnnxBuilder, Value } from '../builder.js';

/** Receives named intermediate values (the names `forwardIntermediates` uses: `stem.x`, `stage1.h`, ...). */
export type OnnxSink = (name: string, value: Value) => void;

/** Writes the nodes of `model` from the NCHW image `input` and returns the logits value [N, numClasses]. */
export type ModelEmitter<M extends ClassifierModel = ClassifierModel> = (
  b: OnnxBuilder,
  model: M,
  input: Value,
  sink: OnnxSink,
) => Value;

/** The name `forwardIntermediates` gives block b of stage s (both 0-based) of a stage of `blocks` blocks. */
export function blockName(s: number, b: number, blocks: number): string {
  return b === blocks - 1 ? `stage${s + 1}` : `stage${s + 1}.block${b + 1}`;
}
