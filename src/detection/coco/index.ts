/** COCO datasets, masks and evaluation with pycocotools' semantics (see docs/detection.md). */
export {
  annotationRle,
  type CocoAnnotation,
  type CocoCategory,
  type CocoDataset,
  type CocoImage,
  type CocoPaths,
  cocoSplitPaths,
  loadCocoDataset,
  parseCocoDataset,
  readCocoImage,
} from './dataset.js';
export { type CocoEvaluation, type CocoResult, evaluateCoco, type IouType } from './evaluate.js';
export {
  type DetectorEvaluation,
  type EvaluateDetectorOptions,
  evaluateDetector,
} from './evaluate-detector.js';
export { boxIous, type IouMatrix, maskIous, type XywhBox } from './iou.js';
export { type CocoEvalParams, defaultCocoParams } from './params.js';
export { rleFromPolygon, rleFromPolygons } from './polygon.js';
export { categoryIdsForClasses, detectionsToResults } from './results.js';
export {
  type CocoRleJson,
  decodeRle,
  encodeMask,
  mergeRles,
  type Rle,
  rleArea,
  rleFromString,
  rleToBbox,
  rleToJson,
  rleToString,
} from './rle.js';
export { formatSummary } from './summary.js';
