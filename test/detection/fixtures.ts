/** The detection parity fixtures of tools/make_detection_fixtures.py (test/fixtures/detection/). */
import { readFileSync } from 'node:fs';
import type { RawImage } from '../../src/data/image.js';
import type { DetectorConfig } from '../../src/detection/config.js';
import { readSafetensors, safetensorToFloat32Array } from '../../src/weights/safetensors.js';
import { fixturePath } from '../helpers/paths.js';

export type TinyDetector = 'faster_rcnn' | 'retinanet' | 'mask_rcnn';

export function detectionFixtureBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath('detection', file)));
}

/** The tiny config the fixture was generated with (same JSON shape as `DetectorConfig`). */
export function tinyConfig(kind: TinyDetector): DetectorConfig {
  return JSON.parse(
    readFileSync(fixturePath('detection', `${kind}_tiny.config.json`), 'utf8'),
  ) as DetectorConfig;
}

/** The three fixture images (uint8 RGB). */
export function fixtureImages(): RawImage[] {
  const file = readSafetensors(detectionFixtureBytes('images.safetensors'));
  return [...file.tensors.values()].map((t) => ({
    data: t.data.slice(),
    height: t.shape[0],
    width: t.shape[1],
    channels: 3,
  }));
}

export interface ReferenceTensor {
  shape: number[];
  data: Float32Array;
  /** The raw bytes (for the bit-packed U8 masks). */
  bytes: Uint8Array;
}

/** The reference tensors of one detector, by name (`img0.neck.0`, `img1.dets`, ...). */
export function referenceTensors(kind: TinyDetector): Map<string, ReferenceTensor> {
  const file = readSafetensors(detectionFixtureBytes(`${kind}_tiny.reference.safetensors`));
  return new Map(
    [...file.tensors].map(([name, t]) => [
      name,
      { shape: [...t.shape], data: safetensorToFloat32Array(t), bytes: t.data },
    ]),
  );
}

/** Unpacks numpy.packbits rows (big-endian bit order) into one 0/1 byte per pixel. */
export function unpackMask(packed: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = (packed[i >> 3] >> (7 - (i & 7))) & 1;
  return out;
}
