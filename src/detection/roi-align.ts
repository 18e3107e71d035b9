/**
 * RoIAlign as mmcv's `RoIAlign(aligned=True, sampling_ratio=0)` (= torchvision's `roi_align(aligned=True)`):
 * box corners scaled by 1 / stride and shifted by -0.5 px, each output bin averages a ceil(roi / out)-per-axis grid
 * of bilinear samples; samples beyond one pixel outside the map count as zero, the others clamp to the border.
 * And mmdet's `SingleRoIExtractor` level rule: level = floor(log2(sqrt(w * h) / finest_scale + 1e-6)), clamped.
 */

const f32 = Math.fround;

/** One feature map of one image, NHWC data [height * width * channels]. */
export interface FeatureMap {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

/**
 * RoIAlign of `boxes` [n * 4] (x1, y1, x2, y2 in input pixels) on `feature` with `spatialScale` = 1 / stride;
 * returns [n, outSize, outSize, channels] (NHWC).
 */
export function roiAlign(
  feature: FeatureMap,
  boxes: Float32Array,
  spatialScale: number,
  outSize: number,
): Float32Array {
  const { data, height, width, channels } = feature;
  const n = boxes.length / 4;
  const out = new Float32Array(n * outSize * outSize * channels);
  const acc = new Float64Array(channels);
  const scale = f32(spatialScale);
  for (let r = 0; r < n; r++) {
    const startW = f32(f32(boxes[4 * r] * scale) - 0.5);
    const startH = f32(f32(boxes[4 * r + 1] * scale) - 0.5);
    const roiW = f32(f32(f32(boxes[4 * r + 2] * scale) - 0.5) - startW);
    const roiH = f32(f32(f32(boxes[4 * r + 3] * scale) - 0.5) - startH);
    const binH = f32(roiH / outSize);
    const binW = f32(roiW / outSize);
    const gridH = Math.max(0, Math.ceil(f32(roiH / outSize)));
    const gridW = Math.max(0, Math.ceil(f32(roiW / outSize)));
    const count = Math.max(gridH * gridW, 1);
    for (let ph = 0; ph < outSize; ph++) {
      for (let pw = 0; pw < outSize; pw++) {
        acc.fill(0);
        for (let iy = 0; iy < gridH; iy++) {
          const y = f32(f32(startH + f32(ph * binH)) + f32(f32((iy + 0.5) * binH) / gridH));
          for (let ix = 0; ix < gridW; ix++) {
            const x = f32(f32(startW + f32(pw * binW)) + f32(f32((ix + 0.5) * binW) / gridW));
            if (y < -1 || y > height || x < -1 || x > width) continue;
            let yy = Math.max(y, 0);
            let xx = Math.max(x, 0);
            let yLow = Math.floor(yy);
            let yHigh: number;
            if (yLow >= height - 1) {
              yHigh = yLow = height - 1;
              yy = yLow;
            } else yHigh = yLow + 1;
            let xLow = Math.floor(xx);
            let xHigh: number;
            if (xLow >= width - 1) {
              xHigh = xLow = width - 1;
              xx = xLow;
            } else xHigh = xLow + 1;
            const ly = f32(yy - yLow);
            const lx = f32(xx - xLow);
            const hy = f32(1 - ly);
            const hx = f32(1 - lx);
            const w1 = f32(hy * hx);
            const w2 = f32(hy * lx);
            const w3 = f32(ly * hx);
            const w4 = f32(ly * lx);
            const p1 = (yLow * width + xLow) * channels;
            const p2 = (yLow * width + xHigh) * channels;
            const p3 = (yHigh * width + xLow) * channels;
            const p4 = (yHigh * width + xHigh) * channels;
            for (let c = 0; c < channels; c++) {
              acc[c] += w1 * data[p1 + c] + w2 * data[p2 + c] + w3 * data[p3 + c] + w4 * data[p4 + c];
            }
          }
        }
        const o = ((r * outSize + ph) * outSize + pw) * channels;
        for (let c = 0; c < channels; c++) out[o + c] = acc[c] / count;
      }
    }
  }
  return out;
}

/** mmdet's `map_roi_levels`: the pyramid level (0-based) each box [n * 4] is pooled from. */
export function roiLevels(boxes: Float32Array, numLevels: number, finestScale: number): Int32Array {
  const n = boxes.length / 4;
  const levels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const scale = f32(
      Math.sqrt(f32(f32(boxes[4 * i + 2] - boxes[4 * i]) * f32(boxes[4 * i + 3] - boxes[4 * i + 1]))),
    );
    const level = Math.floor(Math.log2(f32(f32(scale / finestScale) + f32(1e-6))));
    levels[i] = Math.min(Math.max(level, 0), numLevels - 1);
  }
  return levels;
}

/** `SingleRoIExtractor`: RoIAlign of every box on its level's map; returns [n, outSize, outSize, channels]. */
export function extractRoiFeatures(
  maps: FeatureMap[],
  strides: readonly number[],
  boxes: Float32Array,
  outSize: number,
  finestScale: number,
): { features: Float32Array; levels: Int32Array } {
  const n = boxes.length / 4;
  const channels = maps[0].channels;
  const levels = roiLevels(boxes, strides.length, finestScale);
  const features = new Float32Array(n * outSize * outSize * channels);
  const perRoi = outSize * outSize * channels;
  for (let level = 0; level < strides.length; level++) {
    const indices: number[] = [];
    for (let i = 0; i < n; i++) if (levels[i] === level) indices.push(i);
    if (indices.length === 0) continue;
    const selected = new Float32Array(indices.length * 4);
    indices.forEach((i, k) => {
      selected.set(boxes.subarray(4 * i, 4 * i + 4), 4 * k);
    });
    const pooled = roiAlign(maps[level], selected, 1 / strides[level], outSize);
    indices.forEach((i, k) => {
      features.set(pooled.subarray(k * perRoi, (k + 1) * perRoi), i * perRoi);
    });
  }
  return { features, levels };
}
