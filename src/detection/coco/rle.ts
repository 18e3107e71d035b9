/**
 * COCO run-length encoded masks, ported from pycocotools' `common/maskApi.c` so that areas, boxes and IoUs match
 * it to the pixel. COCO runs are column-major (Fortran order: down the first column, then the next), start with
 * a run of zeros (possibly empty) and alternate; {@link BinaryMask}s here are row-major, so encoding transposes.
 * The compressed string form (`{"size": [h, w], "counts": "..."}` in annotation and result files) is maskApi's
 * LEB128 variant: 5 bits per character offset by 48, runs after the second stored as the difference to the run
 * two before.
 */
import type { BinaryMask } from '../types.js';

/** A run-length encoded h x w mask: `counts` alternate zeros and ones, column-major, zeros first. */
export interface Rle {
  height: number;
  width: number;
  counts: Uint32Array;
}

/** COCO's JSON form of an RLE: compressed (`counts` a string) or uncompressed (`counts` a number list). */
export interface CocoRleJson {
  size: [number, number];
  counts: string | number[];
}

/** maskApi `rleEncode` of a row-major binary mask (any non-zero byte counts as inside). */
export function encodeMask(mask: BinaryMask): Rle {
  const { width, height, data } = mask;
  if (data.length !== width * height) {
    throw new Error(`encodeMask: ${data.length} bytes for a ${width}x${height} mask`);
  }
  const counts: number[] = [];
  let previous = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const value = data[y * width + x] !== 0 ? 1 : 0;
      if (value !== previous) {
        counts.push(run);
        run = 0;
        previous = value;
      }
      run++;
    }
  }
  counts.push(run);
  return { height, width, counts: Uint32Array.from(counts) };
}

/** maskApi `rleDecode`: the row-major binary mask (bytes 0/1) of an RLE. */
export function decodeRle(rle: Rle): BinaryMask {
  const { width, height, counts } = rle;
  const data = new Uint8Array(width * height);
  let position = 0;
  let value = 0;
  for (const count of counts) {
    if (value === 1) {
      for (let k = position; k < position + count; k++) {
        const y = k % height;
        data[y * width + (k - y) / height] = 1;
      }
    }
    position += count;
    value ^= 1;
  }
  if (position !== width * height) {
    throw new Error(`RLE runs cover ${position} pixels of a ${height}x${width} mask`);
  }
  return { width, height, data };
}

/** maskApi `rleToString`: the compressed `counts` string. */
export function rleToString(rle: Rle): string {
  const { counts } = rle;
  let text = '';
  for (let i = 0; i < counts.length; i++) {
    // Arithmetic on numbers, not int32 bit operations: a difference of two runs can exceed 2^31.
    let x = counts[i] - (i > 2 ? counts[i - 2] : 0);
    let more = true;
    while (more) {
      let c = ((x % 32) + 32) % 32; // x & 0x1f for negative x too
      x = Math.floor(x / 32); // arithmetic shift right by 5
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      text += String.fromCharCode(c + 48);
    }
  }
  return text;
}

/** maskApi `rleFrString`: an RLE from its compressed `counts` string; `where` names it in errors. */
export function rleFromString(text: string, height: number, width: number, where = 'RLE'): Rle {
  const counts: number[] = [];
  let p = 0;
  while (p < text.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= text.length) throw new Error(`${where}: compressed counts end inside a number`);
      const c = text.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new Error(`${where}: compressed counts hold a character outside '0'..'o'`);
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (k > 7) throw new Error(`${where}: a compressed count is longer than 7 characters`);
      if (!more && c & 0x10) x -= 2 ** (5 * k); // sign extension
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    if (x < 0) throw new Error(`${where}: compressed counts decode to a negative run`);
    counts.push(x);
  }
  return checkedRle(counts, height, width, where);
}

/** An RLE whose runs are checked to cover exactly height x width pixels (COCO files are untrusted input). */
export function checkedRle(counts: readonly number[], height: number, width: number, where: string): Rle {
  let total = 0;
  for (const count of counts) {
    if (!Number.isInteger(count) || count < 0) throw new Error(`${where}: run ${count} is not a count`);
    total += count;
  }
  if (total !== height * width) {
    throw new Error(
      `${where}: runs cover ${total} pixels, but the mask is ${height}x${width} = ${height * width}`,
    );
  }
  return { height, width, counts: Uint32Array.from(counts) };
}

/** The JSON form pycocotools writes (`mask.encode`): compressed counts. */
export function rleToJson(rle: Rle): CocoRleJson {
  return { size: [rle.height, rle.width], counts: rleToString(rle) };
}

/** maskApi `rleArea`: pixels inside. */
export function rleArea(rle: Rle): number {
  let area = 0;
  for (let j = 1; j < rle.counts.length; j += 2) area += rle.counts[j];
  return area;
}

/**
 * maskApi `rleToBbox`: the tight box `[x, y, w, h]` (pixel units, a one-pixel mask is 1x1); all zeros for an
 * empty mask. A run of ones that wraps to the next column spans every row, as in maskApi.
 */
export function rleToBbox(rle: Rle): [number, number, number, number] {
  const { height: h, width: w, counts } = rle;
  const m = Math.floor(counts.length / 2) * 2;
  if (m === 0) return [0, 0, 0, 0];
  let xs = w;
  let ys = h;
  let xe = 0;
  let ye = 0;
  let cc = 0;
  let xp = 0;
  for (let j = 0; j < m; j++) {
    cc += counts[j];
    const t = cc - (j % 2);
    const y = t % h;
    const x = (t - y) / h;
    if (j % 2 === 0) xp = x;
    else if (xp < x) {
      ys = 0;
      ye = h - 1;
    }
    xs = Math.min(xs, x);
    xe = Math.max(xe, x);
    ys = Math.min(ys, y);
    ye = Math.max(ye, y);
  }
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}

/** maskApi `rleMerge` with intersect = 0: the union of same-sized masks (a polygon annotation's parts). */
export function mergeRles(rles: readonly Rle[]): Rle {
  if (rles.length === 0) return { height: 0, width: 0, counts: new Uint32Array(0) };
  const { height, width } = rles[0];
  let merged = rles[0].counts;
  for (let i = 1; i < rles.length; i++) {
    const other = rles[i];
    if (other.height !== height || other.width !== width) {
      throw new Error(`mergeRles: a ${other.height}x${other.width} mask with a ${height}x${width} one`);
    }
    merged = unionCounts(merged, other.counts);
  }
  return { height, width, counts: Uint32Array.from(merged) };
}

/** The runs of the union of two masks given by their runs (maskApi's merge loop). */
function unionCounts(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out: number[] = [];
  let ca = a[0];
  let cb = b[0];
  let ia = 1;
  let ib = 1;
  let va = false;
  let vb = false;
  let v = false;
  let cc = 0;
  let ct = 1;
  while (ct > 0) {
    const c = Math.min(ca, cb);
    cc += c;
    ct = 0;
    ca -= c;
    if (!ca && ia < a.length) {
      ca = a[ia++];
      va = !va;
    }
    ct += ca;
    cb -= c;
    if (!cb && ib < b.length) {
      cb = b[ib++];
      vb = !vb;
    }
    ct += cb;
    const vp: boolean = v;
    v = va || vb;
    if (v !== vp || ct === 0) {
      out.push(cc);
      cc = 0;
    }
  }
  return Uint32Array.from(out);
}
