/**
 * The detector factory behind `rla detect` and `rla eval-coco`. The detection networks are built apart from the
 * commands (src/detection/create-detector.ts); this one line joins them.
 */
import type { DetectorFactory } from '../detection/factory.js';

export const cliDetectorFactory: DetectorFactory = async () => {
  throw new Error(
    'this build of rla-net has no detection networks (src/detection/create-detector.ts is missing)',
  );
};
