/**
 * `rla detect <image> --weights FILE [-o out.png]`: runs a COCO detector (Faster R-CNN, RetinaNet, Mask R-CNN with
 * an RLA backbone) on one JPEG/PNG image, prints its detections as JSON and draws them (boxes, class and score,
 * masks) onto a copy of the image.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { decodeImage } from '../../data/decode.js';
import { encodeImage, imageFormatOfPath } from '../../data/encode-image.js';
import { encodeMask, rleToJson } from '../../detection/coco/rle.js';
import { drawDetections } from '../../detection/draw.js';
import type { DetectorFactory } from '../../detection/factory.js';
import type { Detection } from '../../detection/types.js';
import { initBackend } from '../../engine/backend.js';
import { BACKEND_OPTION, backendOption, parseCommandArgs, UsageError } from '../args.js';
import {
  DETECTOR_ENGINE_HELP,
  DETECTOR_ENGINE_OPTIONS,
  detectorEngineFrom,
} from '../detector-engine-args.js';
import { cliDetectorFactory } from '../detector-factory.js';

/** `rla detect --help`. */
export const DETECT_USAGE = `usage: rla detect <image> --weights FILE [options]
  --weights FILE       detector checkpoint: an mmdetection .pth (state_dict + meta) or a .safetensors
  --config NAME        detector config, e.g. faster_rcnn_r50rla_fpn, mask_rcnn_r50rla_fpn, retinanet_r50rla_fpn
                       (default: the config the weights file names)
  --score-thr T        print and draw detections scoring at least T, 0-1 (default 0.3, as mmdetection shows them)
  -o, --output FILE    write the image with the detections drawn (.png, .jpg or .jpeg)
  --backend B          auto | wasm | cpu | tensorflow
${DETECTOR_ENGINE_HELP}`;

/** mmdetection's `show_result` threshold. */
const DEFAULT_SCORE_THRESHOLD = 0.3;

/** A detection as printed: box x1 y1 x2 y2 in image pixels, and the mask as a COCO compressed RLE. */
function detectionJson(detection: Detection) {
  return {
    box: detection.box,
    score: detection.score,
    label: detection.label,
    labelName: detection.labelName,
    ...(detection.mask ? { mask: rleToJson(encodeMask(detection.mask)) } : {}),
  };
}

/** `--score-thr`: a number in [0, 1]. */
export function scoreThresholdOption(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (String(value).trim() === '' || !(parsed >= 0 && parsed <= 1)) {
    throw new UsageError(`--score-thr must be a number from 0 to 1, got ${value}`);
  }
  return parsed;
}

/** Runs `rla detect`; `createDetector` opens the detector (tests pass a fake). Returns the exit code. */
export async function detectCommand(
  argv: string[],
  out: (line: string) => void,
  createDetector: DetectorFactory = cliDetectorFactory,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      weights: { type: 'string' },
      config: { type: 'string' },
      'score-thr': { type: 'string' },
      output: { type: 'string', short: 'o' },
      ...BACKEND_OPTION,
      ...DETECTOR_ENGINE_OPTIONS,
    },
    DETECT_USAGE,
  );
  if (values.help) {
    out(DETECT_USAGE);
    return 0;
  }
  if (values.weights === undefined || positionals.length !== 1) {
    throw new UsageError(`need --weights and one image\n\n${DETECT_USAGE}`);
  }
  const [path] = positionals;
  const threshold = scoreThresholdOption(values['score-thr'], DEFAULT_SCORE_THRESHOLD);
  const output = values.output === undefined ? undefined : String(values.output);
  const outputFormat = output === undefined ? undefined : imageFormatOfPath(output);
  const bytes = await readFile(path).catch((error: Error) => {
    throw new UsageError(`cannot read image ${path}: ${error.message}`);
  });
  // Decode before loading the network: a bad image fails fast.
  const image = decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  await initBackend({ backend: backendOption(values.backend) });
  const config = values.config === undefined ? undefined : String(values.config);
  const detector = await createDetector(config, {
    weights: String(values.weights),
    ...detectorEngineFrom(values),
  });
  let detections: Detection[];
  try {
    detections = (await detector.detect(image)).filter((d) => d.score >= threshold);
  } finally {
    detector.dispose();
  }
  out(
    JSON.stringify({ image: path, config: detector.configName, detections: detections.map(detectionJson) }),
  );
  if (output !== undefined && outputFormat !== undefined) {
    await writeFile(output, encodeImage(drawDetections(image, detections), outputFormat));
  }
  return 0;
}
