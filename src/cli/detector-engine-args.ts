/** `--engine tfjs|ort` and the ONNX Runtime flags of the detection commands (`rla detect`, `rla eval-coco`). */
import type { DetectorFileOptions } from '../detection/factory.js';
import { ORT_LOG_LEVELS } from '../onnx/session.js';
import { type OptionSpec, UsageError } from './args.js';
import { ORT_OPTIONS, ortSessionFrom } from './ort-args.js';

export const DETECTOR_ENGINE_OPTIONS: OptionSpec = { engine: { type: 'string' }, ...ORT_OPTIONS };

export const DETECTOR_ENGINE_HELP = `  --engine E           tfjs (default) | ort: the network (backbone, FPN, heads) as ONNX graphs on ONNX Runtime;
                       anchors, proposals, RoIAlign, NMS and masks run in JS either way
  --threads N          ONNX Runtime intra-op threads (default: one per core)
  --execution-providers LIST
                       ONNX Runtime providers in order, e.g. cuda,cpu (default cpu)
  --ort-log-level L    ${ORT_LOG_LEVELS.join(' | ')} (default warning)`;

/** The engine options of the detector factory from the flags. */
export function detectorEngineFrom(values: Record<string, unknown>): Omit<DetectorFileOptions, 'weights'> {
  const engine = values.engine === undefined ? 'tfjs' : String(values.engine);
  if (engine !== 'tfjs' && engine !== 'ort') throw new UsageError(`--engine ${engine}: choose tfjs or ort`);
  const ort = ortSessionFrom(values);
  if (engine === 'tfjs' && Object.keys(ort).length > 0)
    throw new UsageError('--threads, --execution-providers and --ort-log-level need --engine ort');
  return engine === 'ort' ? { engine, ort } : { engine };
}
