/**
 * Detections drawn onto an image, like mmdetection's `show_result`: semi-transparent instance masks, box
 * outlines and a "label score" tag per detection, one colour per class. Pure pixel work on a {@link RawImage}
 * copy; encoding to PNG/JPEG is `data/encode-image.ts`'s.
 */
import { blankImage, type RawImage, toRgb } from '../data/image.js';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphPixel } from './font5x8.js';
import type { Detection } from './types.js';

/** How detections are drawn. */
export interface DrawOptions {
  /** Opacity of mask colour over the image, 0-1 (default 0.5). */
  maskAlpha?: number;
  /** Box line width in pixels (default: 1 per 400 pixels of the shorter side, at least 2). */
  lineWidth?: number;
  /** Text magnification (default: 1 per 500 pixels of the shorter side, at least 1). */
  textScale?: number;
}

type Rgb = [number, number, number];

/** A distinct, stable colour per class: hues spread by the golden ratio, saturated and bright. */
export function classColor(label: number): Rgb {
  const hue = (label * 0.618033988749895) % 1;
  const [s, v] = [0.85, 0.95];
  const h = hue * 6;
  const i = Math.floor(h);
  const f = h - i;
  const [p, q, t] = [v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))];
  const rgb = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][i % 6];
  return rgb.map((c) => Math.round(255 * c)) as Rgb;
}

/** The text of a detection's tag: its class name and score with two decimals. */
export function detectionCaption(detection: Detection): string {
  return `${detection.labelName} ${detection.score.toFixed(2)}`;
}

/** A copy of `image` (as RGB) with `detections` drawn: masks first, then boxes, then tags on top. */
export function drawDetections(
  image: RawImage,
  detections: readonly Detection[],
  options: DrawOptions = {},
): RawImage {
  const canvas = copyRgb(image);
  const shorter = Math.min(image.width, image.height);
  const alpha = options.maskAlpha ?? 0.5;
  const lineWidth = options.lineWidth ?? Math.max(2, Math.round(shorter / 400));
  const textScale = options.textScale ?? Math.max(1, Math.round(shorter / 500));
  detections.forEach((detection, i) => {
    if (!detection.mask) return;
    const { width, height } = detection.mask;
    if (width !== image.width || height !== image.height) {
      throw new Error(`detection ${i}: mask is ${width}x${height}, the image ${image.width}x${image.height}`);
    }
    blendMask(canvas, detection.mask.data, classColor(detection.label), alpha);
  });
  for (const detection of detections) drawBox(canvas, detection.box, classColor(detection.label), lineWidth);
  for (const detection of detections) {
    drawTag(canvas, detectionCaption(detection), detection.box, classColor(detection.label), textScale);
  }
  return canvas;
}

function copyRgb(image: RawImage): RawImage {
  const rgb = toRgb(image);
  const copy = blankImage(rgb.height, rgb.width, 3);
  copy.data.set(rgb.data);
  return copy;
}

function blendMask(canvas: RawImage, mask: Uint8Array, color: Rgb, alpha: number): void {
  const { data } = canvas;
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    for (let c = 0; c < 3; c++)
      data[3 * p + c] = Math.round((1 - alpha) * data[3 * p + c] + alpha * color[c]);
  }
}

/** Fills the rectangle [x0, x1) x [y0, y1), clipped to the canvas. */
function fillRect(canvas: RawImage, x0: number, y0: number, x1: number, y1: number, color: Rgb): void {
  const [xa, xb] = [Math.max(0, x0), Math.min(canvas.width, x1)];
  const [ya, yb] = [Math.max(0, y0), Math.min(canvas.height, y1)];
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) canvas.data.set(color, 3 * (y * canvas.width + x));
  }
}

/** A box outline `lineWidth` pixels wide, drawn inward from the box's pixel edges. */
function drawBox(canvas: RawImage, box: Detection['box'], color: Rgb, lineWidth: number): void {
  const [x0, y0] = [Math.round(box[0]), Math.round(box[1])];
  const [x1, y1] = [Math.max(x0 + 1, Math.round(box[2])), Math.max(y0 + 1, Math.round(box[3]))];
  const w = Math.min(lineWidth, x1 - x0);
  const h = Math.min(lineWidth, y1 - y0);
  fillRect(canvas, x0, y0, x1, y0 + h, color);
  fillRect(canvas, x0, y1 - h, x1, y1, color);
  fillRect(canvas, x0, y0, x0 + w, y1, color);
  fillRect(canvas, x1 - w, y0, x1, y1, color);
}

/** The caption on a filled tag above the box's top-left corner (inside the box when there is no room above). */
function drawTag(canvas: RawImage, text: string, box: Detection['box'], color: Rgb, scale: number): void {
  const pad = scale;
  const tagWidth = text.length * (GLYPH_WIDTH + 1) * scale + pad;
  const tagHeight = GLYPH_HEIGHT * scale + 2 * pad;
  const x0 = Math.min(Math.max(0, Math.round(box[0])), Math.max(0, canvas.width - tagWidth));
  const top = Math.round(box[1]);
  const y0 = top - tagHeight >= 0 ? top - tagHeight : Math.max(0, top);
  fillRect(canvas, x0, y0, x0 + tagWidth, y0 + tagHeight, color);
  // Black text on light colours, white on dark (ITU-R BT.601 luma).
  const luma = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2];
  const ink: Rgb = luma > 140 ? [0, 0, 0] : [255, 255, 255];
  for (let i = 0; i < text.length; i++) {
    const gx = x0 + pad + i * (GLYPH_WIDTH + 1) * scale;
    for (let x = 0; x < GLYPH_WIDTH; x++) {
      for (let y = 0; y < GLYPH_HEIGHT; y++) {
        if (!glyphPixel(text[i], x, y)) continue;
        fillRect(
          canvas,
          gx + x * scale,
          y0 + pad + y * scale,
          gx + (x + 1) * scale,
          y0 + pad + (y + 1) * scale,
          ink,
        );
      }
    }
  }
}
