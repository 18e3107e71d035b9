/**
 * Detection speed at COCO's test scale: a full-size detector (random weights at full width, seeded) on synthetic
 * 800x1333 images (resized to fit (1333, 800): scale 1, padded to 800x1344), per engine. Prints one JSON line per
 * engine: seconds per image (each timed image), img/s from the median, and how much of it is the dense part
 * (backbone + FPN + dense head: until the post-processing receives `neck.0`).
 *
 * `node dist/bench/detection-speed.js [config] [--images N] [--engines tfjs,ort1,ort2] [--score-thr T]` (defaults:
 * faster_rcnn_r50rla_fpn, 2 images, tfjs,ort1,ort2; ortK = ONNX Runtime with K intra-op threads). One warm-up
 * image per ONNX Runtime engine; TF.js gets none (an image takes tens of seconds, the first one's setup is small
 * beside it, and it is reported separately as the first entry of `seconds`).
 */
import { parseArgs } from 'node:util';
import type { RawImage } from '../src/data/image.js';
import { detectorConfig as registeredConfig } from '../src/detection/config.js';
import { createDetector } from '../src/detection/create-detector.js';
import type { RLADetector } from '../src/detection/detector.js';
import { initBackend } from '../src/engine/backend.js';
import { Rng } from '../src/nn/init.js';

const HEIGHT = 800;
const WIDTH = 1333;

function syntheticImage(seed: number): RawImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(HEIGHT * WIDTH * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rng.uniform() * 256);
  return { data, height: HEIGHT, width: WIDTH, channels: 3 };
}

async function timeImage(
  detector: RLADetector,
  image: RawImage,
): Promise<{ total: number; dense: number; detections: number }> {
  const start = performance.now();
  let dense = 0;
  const output = await detector.run(image, (name) => {
    if (name === 'neck.0') dense = performance.now() - start;
  });
  return { total: (performance.now() - start) / 1000, dense: dense / 1000, detections: output.scores.length };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { images: { type: 'string' }, engines: { type: 'string' }, 'score-thr': { type: 'string' } },
  });
  const config = positionals[0] ?? 'faster_rcnn_r50rla_fpn';
  const count = Number(values.images ?? 2);
  const engines = (values.engines ?? 'tfjs,ort1,ort2').split(',');
  // Random weights score every class near 1/81 (R-CNNs) or 0.5 (RetinaNet's sigmoid): a lower threshold makes
  // the post-processing (and Mask R-CNN's mask head) see up to maxPerImg detections, as a trained model does.
  const detectorConfig = structuredClone(registeredConfig(config));
  if (values['score-thr'] !== undefined) {
    const threshold = Number(values['score-thr']);
    if (detectorConfig.roi) detectorConfig.roi.test.scoreThr = threshold;
    if (detectorConfig.retina) detectorConfig.retina.test.scoreThr = threshold;
  }
  await initBackend({ backend: 'wasm' });
  const images = Array.from({ length: count }, (_, i) => syntheticImage(i + 1));
  for (const engine of engines) {
    const threads = engine.startsWith('ort') ? Number(engine.slice(3)) : null;
    const setupStart = performance.now();
    const detector = await createDetector(config, {
      seed: 0,
      config: detectorConfig,
      ...(threads ? { engine: 'ort' as const, ort: { threads } } : {}),
    });
    const setup = (performance.now() - setupStart) / 1000;
    if (threads) await timeImage(detector, images[0]);
    let detections = 0;
    const timings = [];
    for (const image of images) {
      const timing = await timeImage(detector, image);
      timings.push(timing);
      detections = timing.detections;
    }
    detector.dispose();
    const seconds = timings.map((t) => Number(t.total.toFixed(2)));
    const perImage = median(timings.map((t) => t.total));
    console.log(
      JSON.stringify({
        config,
        size: `${HEIGHT}x${WIDTH}`,
        engine: threads ? `ort, ${threads} intra-op thread(s)` : 'tfjs-wasm',
        setupSeconds: Number(setup.toFixed(1)),
        seconds,
        denseSeconds: timings.map((t) => Number(t.dense.toFixed(2))),
        imgPerSec: Number((1 / perImage).toFixed(4)),
        detectionsLastImage: detections,
      }),
    );
  }
}

await main();
