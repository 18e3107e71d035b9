/**
 * `rla eval-coco --data DIR --weights FILE`: a detector's COCO AP on a COCO-format dataset, printed as
 * pycocotools' 12-line summary per IoU type (bbox; segm too for Mask R-CNN), as mmdetection's test script prints it.
 */
import { writeFile } from 'node:fs/promises';
import { cocoSplitPaths, loadCocoDataset } from '../../detection/coco/dataset.js';
import { evaluateDetector } from '../../detection/coco/evaluate-detector.js';
import { rleToJson } from '../../detection/coco/rle.js';
import { formatSummary } from '../../detection/coco/summary.js';
import type { DetectorFactory } from '../../detection/factory.js';
import { initBackend } from '../../engine/backend.js';
import { BACKEND_OPTION, backendOption, integerOption, parseCommandArgs, UsageError } from '../args.js';
import {
  DETECTOR_ENGINE_HELP,
  DETECTOR_ENGINE_OPTIONS,
  detectorEngineFrom,
} from '../detector-engine-args.js';
import { cliDetectorFactory } from '../detector-factory.js';

/** `rla eval-coco --help`. */
export const EVAL_COCO_USAGE = `usage: rla eval-coco --data DIR --weights FILE [options]
  --data DIR           COCO root: DIR/annotations/instances_<split>.json and the images in DIR/<split>/
  --split NAME         the split under --data (default val2017)
  --annotations FILE   the annotation JSON (instead of --data's)
  --images DIR         the folder of the annotations' file_names (instead of --data's)
  --weights FILE       detector checkpoint: an mmdetection .pth (state_dict + meta) or a .safetensors
  --config NAME        detector config, e.g. mask_rcnn_r50rla_fpn (default: the one the weights file names)
  --limit N            evaluate the first N images (by id) only
  --results FILE       also write the detections as a COCO results JSON (for pycocotools)
  --backend B          auto | wasm | cpu | tensorflow
${DETECTOR_ENGINE_HELP}`;

/** Runs `rla eval-coco`; `createDetector` opens the detector (tests pass a fake). Returns the exit code. */
export async function evalCocoCommand(
  argv: string[],
  out: (line: string) => void,
  createDetector: DetectorFactory = cliDetectorFactory,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      data: { type: 'string' },
      split: { type: 'string' },
      annotations: { type: 'string' },
      images: { type: 'string' },
      weights: { type: 'string' },
      config: { type: 'string' },
      limit: { type: 'string' },
      results: { type: 'string' },
      ...BACKEND_OPTION,
      ...DETECTOR_ENGINE_OPTIONS,
    },
    EVAL_COCO_USAGE,
  );
  if (values.help) {
    out(EVAL_COCO_USAGE);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${positionals[0]}\n\n${EVAL_COCO_USAGE}`);
  const split = values.split === undefined ? 'val2017' : String(values.split);
  const fromRoot = values.data === undefined ? undefined : cocoSplitPaths(String(values.data), split);
  const annotations = values.annotations ?? fromRoot?.annotations;
  const images = values.images ?? fromRoot?.images;
  if (values.weights === undefined || annotations === undefined || images === undefined) {
    throw new UsageError(`need --weights and --data (or --annotations and --images)\n\n${EVAL_COCO_USAGE}`);
  }
  const limit = integerOption('limit', values.limit);
  const dataset = await loadCocoDataset({ annotations: String(annotations), images: String(images) });
  await initBackend({ backend: backendOption(values.backend) });
  const config = values.config === undefined ? undefined : String(values.config);
  const detector = await createDetector(config, {
    weights: String(values.weights),
    ...detectorEngineFrom(values),
  });
  const started = performance.now();
  let evaluation: Awaited<ReturnType<typeof evaluateDetector>>;
  try {
    evaluation = await evaluateDetector(detector, dataset, {
      limit,
      onImage: (done, total) => {
        if (done % 100 === 0 || done === total) console.error(`[${done}/${total}] images`);
      },
    });
  } finally {
    detector.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  out(
    `${detector.configName} on ${evaluation.imageCount} images of ${dataset.source}: ` +
      `${evaluation.results.length} detections in ${seconds.toFixed(1)} s`,
  );
  for (const { iouType, stats, params } of evaluation.evaluations) {
    out(`Evaluate annotation type *${iouType}*`);
    for (const line of formatSummary(stats, params)) out(line);
  }
  if (values.results !== undefined) {
    const json = evaluation.results.map((r) => ({
      image_id: r.imageId,
      category_id: r.categoryId,
      bbox: r.bbox,
      score: r.score,
      ...(r.segmentation ? { segmentation: rleToJson(r.segmentation) } : {}),
    }));
    await writeFile(String(values.results), JSON.stringify(json));
  }
  return 0;
}
