/**
 * A small RGB raster canvas: filled rectangles, thick (optionally dashed) lines, dots and 5x7 bitmap text, enough
 * for line charts and labelled image grids written as PNG without a canvas or plotting dependency.
 */
import { blankImage, type RawImage } from '../data/image.js';
import type { Rgb } from './colormap.js';
import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyphColumns, textWidth } from './font5x7.js';

/** `#rrggbb` -> [r, g, b]. */
export function parseHexColor(color: string): Rgb {
  const match = /^#([0-9a-f]{6})$/i.exec(color);
  if (!match) throw new Error(`colour must be #rrggbb, got ${color}`);
  const value = Number.parseInt(match[1], 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

export class Canvas {
  readonly image: RawImage;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.image = blankImage(height, width, 3);
    this.fillRect(0, 0, width, height, background);
  }

  /** Sets one pixel; outside the canvas nothing happens. */
  setPixel(x: number, y: number, color: Rgb): void {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= this.width || py >= this.height) return;
    const i = 3 * (py * this.width + px);
    this.image.data[i] = color[0];
    this.image.data[i + 1] = color[1];
    this.image.data[i + 2] = color[2];
  }

  fillRect(x: number, y: number, width: number, height: number, color: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + width));
    const y1 = Math.min(this.height, Math.round(y + height));
    for (let py = y0; py < y1; py++) for (let px = x0; px < x1; px++) this.setPixel(px, py, color);
  }

  /** Outline of a rectangle, one pixel wide. */
  strokeRect(x: number, y: number, width: number, height: number, color: Rgb): void {
    this.line(x, y, x + width, y, color);
    this.line(x + width, y, x + width, y + height, color);
    this.line(x + width, y + height, x, y + height, color);
    this.line(x, y + height, x, y, color);
  }

  /**
   * A line from (x0, y0) to (x1, y1), `thickness` pixels wide; `dash` = [on, off] pixel lengths along the line.
   * Returns the dash phase at its end, so a polyline continues its pattern across segments.
   */
  line(
    x0: number,
    y0: number,
    x1: number,
    y1: number,
    color: Rgb,
    { thickness = 1, dash, phase = 0 }: { thickness?: number; dash?: [number, number]; phase?: number } = {},
  ): number {
    const length = Math.hypot(x1 - x0, y1 - y0);
    const steps = Math.max(1, Math.ceil(length * 2));
    const half = (thickness - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      const along = phase + (length * s) / steps;
      if (dash && along % (dash[0] + dash[1]) >= dash[0]) continue;
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      for (let dy = -half; dy <= half; dy++)
        for (let dx = -half; dx <= half; dx++) this.setPixel(x + dx, y + dy, color);
    }
    return phase + length;
  }

  /** A filled disc of `radius` pixels. */
  dot(cx: number, cy: number, radius: number, color: Rgb): void {
    for (let dy = -radius; dy <= radius; dy++)
      for (let dx = -radius; dx <= radius; dx++)
        if (dx * dx + dy * dy <= radius * radius + 0.5) this.setPixel(cx + dx, cy + dy, color);
  }

  /**
   * `text` in the 5x7 font, each font pixel `scale` x `scale` canvas pixels. `align` places x at the text's left,
   * centre or right; y is the vertical middle of the text. `vertical` draws it rotated 90 degrees
   * counter-clockwise (reading bottom to top, centred on (x, y)), for a y-axis label.
   */
  text(
    text: string,
    x: number,
    y: number,
    color: Rgb,
    {
      scale = 1,
      align = 'left',
      vertical = false,
    }: { scale?: number; align?: 'left' | 'center' | 'right'; vertical?: boolean } = {},
  ): void {
    const width = textWidth(text, scale);
    const start = align === 'left' ? 0 : align === 'center' ? -width / 2 : -width;
    const top = Math.round(-(GLYPH_HEIGHT * scale) / 2);
    [...text].forEach((char, k) => {
      const columns = glyphColumns(char);
      for (let c = 0; c < GLYPH_WIDTH; c++) {
        for (let r = 0; r < GLYPH_HEIGHT; r++) {
          if (!((columns[c] >> r) & 1)) continue;
          // Offsets of the font pixel from the anchor, before rotation.
          const u = Math.round(start + (k * GLYPH_ADVANCE + c) * scale);
          const v = top + r * scale;
          for (let i = 0; i < scale; i++)
            for (let j = 0; j < scale; j++) {
              if (vertical) this.setPixel(x + v + j, y - u - i, color);
              else this.setPixel(x + u + i, y + v + j, color);
            }
        }
      }
    });
  }

  /** Copies an RGB or grayscale image with its top-left corner at (x, y), scaled by an integer `zoom`. */
  drawImage(source: RawImage, x: number, y: number, zoom = 1): void {
    for (let sy = 0; sy < source.height; sy++) {
      for (let sx = 0; sx < source.width; sx++) {
        const i = (sy * source.width + sx) * source.channels;
        const color: Rgb =
          source.channels === 3
            ? [source.data[i], source.data[i + 1], source.data[i + 2]]
            : [source.data[i], source.data[i], source.data[i]];
        this.fillRect(x + sx * zoom, y + sy * zoom, zoom, zoom, color);
      }
    }
  }
}
