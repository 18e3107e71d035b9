/**
 * Polygon -> RLE rasterisation, ported from maskApi.c's `rleFrPoly` (pycocotools `frPyObjects`), so that COCO
 * polygon annotations become exactly the masks pycocotools evaluates against. The polygon is traced on a 5x
 * upsampled grid and a pixel is inside when its centre lies below the traced boundary's crossing of its column.
 */
import { checkedRle, mergeRles, type Rle } from './rle.js';

const SCALE = 5;
/** Most boundary points traced for one polygon (2e7: a few hundred MB in the point lists at most). */
const MAX_BOUNDARY_POINTS = 20_000_000;

/** The RLE of one polygon `[x0, y0, x1, y1, ...]` (pixel coordinates) on an h x w image. */
export function rleFromPolygon(xy: readonly number[], height: number, width: number): Rle {
  const k = Math.floor(xy.length / 2);
  // C's (int) cast truncates toward zero.
  const x = new Float64Array(k + 1);
  const y = new Float64Array(k + 1);
  for (let j = 0; j < k; j++) {
    x[j] = Math.trunc(SCALE * xy[2 * j] + 0.5);
    y[j] = Math.trunc(SCALE * xy[2 * j + 1] + 0.5);
  }
  x[k] = x[0];
  y[k] = y[0];
  // The traced boundary has one point per upsampled pixel: refuse coordinates that would make it huge (annotation
  // files are untrusted; a COCO polygon lies within its image, about 5 * (h + w) * 2 points).
  let points = 0;
  for (let j = 0; j < k; j++) points += Math.max(Math.abs(x[j] - x[j + 1]), Math.abs(y[j] - y[j + 1])) + 1;
  if (!(points <= MAX_BOUNDARY_POINTS)) {
    throw new Error(`polygon: its outline is ${points} points on the 5x grid, over ${MAX_BOUNDARY_POINTS}`);
  }
  // Dense boundary points on the upsampled grid.
  const u: number[] = [];
  const v: number[] = [];
  for (let j = 0; j < k; j++) {
    let xs = x[j];
    let xe = x[j + 1];
    let ys = y[j];
    let ye = y[j + 1];
    const dx = Math.abs(xe - xs);
    const dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      [xs, xe] = [xe, xs];
      [ys, ye] = [ye, ys];
    }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u.push(t + xs);
        v.push(Math.trunc(ys + s * t + 0.5));
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v.push(t + ys);
        u.push(Math.trunc(xs + s * t + 0.5));
      }
    }
  }
  // Points where the boundary crosses a pixel column centre, downsampled to image pixels.
  const starts: number[] = [];
  for (let j = 1; j < u.length; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
    xd = (xd + 0.5) / SCALE - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > width - 1) continue;
    let yd = Math.min(v[j], v[j - 1]);
    yd = (yd + 0.5) / SCALE - 0.5;
    if (yd < 0) yd = 0;
    else if (yd > height) yd = height;
    yd = Math.ceil(yd);
    starts.push(xd * height + yd);
  }
  // Each crossing toggles inside/outside from its column-major position on.
  starts.push(height * width);
  starts.sort((a, b) => a - b);
  let previous = 0;
  for (let j = 0; j < starts.length; j++) {
    const t = starts[j];
    starts[j] -= previous;
    previous = t;
  }
  // Zero-length runs merge their neighbours (two crossings at one position cancel).
  const counts: number[] = [starts[0]];
  let j = 1;
  while (j < starts.length) {
    if (starts[j] > 0) counts.push(starts[j++]);
    else {
      j++;
      if (j < starts.length) counts[counts.length - 1] += starts[j++];
    }
  }
  return checkedRle(counts, height, width, 'polygon');
}

/** pycocotools `annToRLE` for a polygon list: the union of the parts' masks. */
export function rleFromPolygons(
  polygons: readonly (readonly number[])[],
  height: number,
  width: number,
): Rle {
  return mergeRles(polygons.map((polygon) => rleFromPolygon(polygon, height, width)));
}
