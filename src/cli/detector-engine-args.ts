/** `--engine tfjs|ort` and the ONNX Runtime flags of the detection commands (`rla detect`, `rla eval-coco`). */
import type { DetectorFileOptions } from '../detection/factory.js';
import { type OptionSpec, UsageError } from './args.js';
import { ORT_OPTIONS, ORT_OPTIONS_HELP, ortSessionFrom } from './ort-args.js';

export const DETECTOR_ENGINE_OPTIONS: OptionSpec = { engine: { type: 'string' }, ...ORT_OPTIONS };

export const DETECTOR_ENGINE_HELP = `  --engine E           tfjs (default) | ort: backbone, FPN and dense head as one ONNX graph on ONNX Runtime
                       (post-processing in JS either way)
${ORT_OPTIONS_HELP.replace(/^/gm, ' ')}`;

/** The engine options of the detector factory from the flags. */
export function detectorEngineFrom(values: Record<string, unknown>): Omit<DetectorFileOptions, 'weights'> {
  const engine = values.engine === undefined ? 'tfjs' : String(values.engine);
  if (engine !== 'tfjs' && engine !== 'ort') throw new UsageError(`--engine ${engine}: choose tfjs or ort`);
  const ort = ortSessionFrom(values);
  if (engine === 'tfjs' && Object.keys(ort).length > 0)
    throw new UsageError('--threads, --execution-providers and --ort-log-level need --engine ort');
  return engine === 'ort' ? { engine, ort } : { engine };
}
