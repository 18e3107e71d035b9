/**
 * The detector factory behind `rla detect` and `rla eval-coco`: the commands take it as a parameter (their tests
 * inject a fake detector); this is the real one.
 */
import { createDetector } from '../detection/create-detector.js';
import type { DetectorFactory } from '../detection/factory.js';

export const cliDetectorFactory: DetectorFactory = createDetector;
