/**
 * Detector weights: mmdetection checkpoints (`state_dict` + `meta`, as the released RLA COCO files) and rla-net
 * safetensors, through the same safe reader and strict missing / unexpected / mismatched report as the
 * classifiers; saving writes safetensors whose metadata names the detector config (and holds it as JSON, so a
 * file of a custom config rebuilds without it).
 */
import { type LoadReport, loadStateDictSource } from '../checkpoint/load-checkpoint.js';
import { RLA_FORMAT, toSafetensorsBytes } from '../checkpoint/save-checkpoint.js';
import { readStateDict, type StateDictSource } from '../checkpoint/state-dict-source.js';
import { truncateText } from '../util/bounded-text.js';
import { CheckpointError } from '../weights/errors.js';
import { type DetectorConfig, validateDetectorConfig } from './config.js';
import type { RLADetector } from './detector.js';

/** safetensors metadata keys of a saved detector. */
export const DETECTOR_CONFIG_KEY = 'detector_config';
export const DETECTOR_CONFIG_JSON_KEY = 'detector_config_json';

/** The detector parts every mmdet detector checkpoint has. */
const DETECTOR_PREFIXES = ['backbone.', 'neck.'];

/** Throws a clear error when a file's keys are not a detector's (e.g. an ImageNet classifier checkpoint). */
export function checkDetectorKeys(source: StateDictSource, fileName: string): void {
  const keys = [...source.tensors.keys()];
  const missing = DETECTOR_PREFIXES.filter((prefix) => !keys.some((key) => key.startsWith(prefix)));
  if (missing.length > 0) {
    const sample = keys
      .slice(0, 3)
      .map((key) => truncateText(key))
      .join(', ');
    throw new CheckpointError(
      `${fileName}: not a detector checkpoint: no ${missing.join(' / ')} keys (an mmdetection file has backbone., ` +
        `neck. and head keys; this one starts with ${sample || 'no tensors'}). A classifier checkpoint (e.g. ` +
        'resnet50_rla_2295.pth.tar) is a backbone initialisation, not a detector.',
    );
  }
}

/** The config stored in an rla-net detector safetensors file, or null when the file carries none. */
export function storedDetectorConfig(
  source: StateDictSource,
  fileName: string,
): { name: string; config: DetectorConfig | null } | null {
  const name = source.info[DETECTOR_CONFIG_KEY];
  if (source.info.format !== RLA_FORMAT || typeof name !== 'string') return null;
  const json = source.info[DETECTOR_CONFIG_JSON_KEY];
  if (typeof json !== 'string') return { name, config: null };
  let config: DetectorConfig;
  try {
    config = JSON.parse(json) as DetectorConfig;
    validateDetectorConfig(config);
  } catch (error) {
    throw new CheckpointError(
      `${fileName}: invalid ${DETECTOR_CONFIG_JSON_KEY} metadata: ${(error as Error).message}`,
    );
  }
  return { name, config };
}

/**
 * The released config an mmdet checkpoint belongs to, from its keys (mmdet files do not name their config in a
 * form we can read): the heads give the detector (`roi_head.mask_head.` Mask R-CNN, `rpn_head.` Faster R-CNN,
 * `bbox_head.retina_cls` RetinaNet), ECA keys the rlaeca backbone, stage 3's block count the depth (6: R-50,
 * 23: R-101). Returns null when the keys fit none of them.
 */
export function inferDetectorConfigName(source: StateDictSource): string | null {
  const keys = [...source.tensors.keys()];
  const has = (prefix: string) => keys.some((key) => key.startsWith(prefix));
  const kind = has('roi_head.mask_head.')
    ? 'mask_rcnn'
    : has('rpn_head.')
      ? 'faster_rcnn'
      : has('bbox_head.retina_cls.')
        ? 'retinanet'
        : null;
  const blocks = new Set(
    keys.filter((key) => key.startsWith('backbone.stages.2.')).map((key) => key.split('.')[3]),
  );
  const depth = blocks.size === 6 ? 50 : blocks.size === 23 ? 101 : null;
  if (!kind || !depth) return null;
  return `${kind}_r${depth}rla${has('backbone.stages.0.0.eca.') ? 'eca' : ''}_fpn`;
}

/** Reads detector weights (mmdet `.pth` or rla-net safetensors) and checks they are a detector's. */
export function readDetectorWeights(bytes: Uint8Array, fileName = 'weights'): StateDictSource {
  const source = readStateDict(bytes, { fileName });
  checkDetectorKeys(source, fileName);
  return source;
}

/** Loads weights into `detector`; strict by default (any missing, unexpected or mismatched key is an error). */
export function loadDetectorWeights(
  detector: RLADetector,
  source: StateDictSource,
  options: { fileName?: string; strict?: boolean } = {},
): LoadReport {
  return loadStateDictSource(detector, source, {
    strict: options.strict ?? true,
    fileName: options.fileName,
  });
}

/** rla-net safetensors bytes of a detector: mmdet keys in PyTorch layout, the config name and JSON in metadata. */
export function detectorToSafetensors(detector: RLADetector): Uint8Array {
  return toSafetensorsBytes(detector, null, {
    [DETECTOR_CONFIG_KEY]: detector.configName,
    [DETECTOR_CONFIG_JSON_KEY]: JSON.stringify(detector.config),
  });
}
