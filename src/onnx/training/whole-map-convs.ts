/**
 * Rewrites of the training forward, once shapes are known, for convolutions on the small maps of late stages.
 * ONNX Runtime runs a convolution with non-constant weights (every training graph's) as an im2col and a product
 * per image; on a map of a few pixels those products have a few columns, far from its kernels' speed.
 * - Single-tap convs (one output pixel computed from one input pixel: 3x3 and 1x1 convs on 1x1 maps, 1x1
 *   stride-2 projections onto them) become one Gemm over the batch: 3x faster (1x1 conv [128, 1024, 1, 1] ->
 *   2048 channels, 16.8 ms as Conv, 5.8 ms as Gemm), and their gradients (derived from Slice, Reshape and Gemm)
 *   are products over the batch too.
 * - Whole-map convs (output maps of up to a few pixels, every input pixel read) become one product of the
 *   flattened maps with a matrix assembled from the kernel: the CIFAR case's step (2x2 maps in stage 3) runs
 *   11.7% faster with it (docs/training-ort.md).
 */
import { int, ints, type OnnxBuilder, type Value } from '../builder.js';
import { intsAttribute, type NodeProto } from '../onnx-proto.js';
import { type BatchLastPlan, batchLastView, NO_BATCH_LAST } from './batch-last.js';
import { shapeRecorder } from './shape-probe.js';

/**
 * The kernel tap (row, column) that the one output pixel reads from input pixel (0, 0), when the output is 1x1
 * and every other tap reads padding; null when the conv is not of that kind (or grouped).
 */
export function singleTap(
  node: NodeProto,
  shapeOf: (value: Value) => readonly number[] | undefined,
): [number, number] | null {
  if (node.opType !== 'Conv') return null;
  const x = shapeOf(node.inputs[0]);
  const w = shapeOf(node.inputs[1]);
  const y = shapeOf(node.outputs[0]);
  if (!x || !w || !y || x.length !== 4 || y[2] !== 1 || y[3] !== 1) return null;
  const groupAttribute = node.attributes.group;
  if (groupAttribute?.kind === 'int' && groupAttribute.value !== 1) return null;
  if (intsAttribute(node, 'dilations', [1, 1]).some((d) => d !== 1)) return null;
  const pads = intsAttribute(node, 'pads', [0, 0, 0, 0]);
  const [kh, kw] = [w[2], w[3]];
  // The output pixel covers input rows -pad .. kh - 1 - pad: tap `pad` reads row 0; rows past 0 must not exist.
  const rows = Math.min(x[2], kh - pads[0]);
  const columns = Math.min(x[3], kw - pads[1]);
  if (rows !== 1 || columns !== 1 || pads[0] >= kh || pads[1] >= kw) return null;
  return [pads[0], pads[1]];
}

/**
 * Whether a product conv computes batch-last: its input and output share a layout (batch-last.ts joins them).
 */
function computesBatchLast(node: NodeProto, layout: BatchLastPlan): boolean {
  const batchLast = layout.values.has(node.outputs[0]);
  if (layout.values.has(node.inputs[0]) !== batchLast)
    throw new Error(`conv rewrite: ${node.name} reads and writes different layouts`);
  return batchLast;
}

/**
 * Rewrites every single-tap conv of `b` (see the module comment); records the shapes of the values it adds.
 * Batch-last in `layout` (batch-last.ts), the product is the kernel times the pixel's [C, N] columns.
 */
export function rewriteSingleTapConvs(
  b: OnnxBuilder,
  shapes: Map<Value, number[]>,
  layout: BatchLastPlan = NO_BATCH_LAST,
): number {
  const record = shapeRecorder(shapes);
  let rewritten = 0;
  for (let index = 0; index < b.nodeList.length; index++) {
    const node = b.nodeList[index];
    const tap = singleTap(node, (value) => shapes.get(value));
    if (!tap) continue;
    const [x, w, bias] = node.inputs;
    const [n, c, h, width] = shapes.get(x) as number[];
    const [o, i] = shapes.get(w) as number[];
    const batchLast = computesBatchLast(node, layout);
    b.replaceNode(index, () =>
      b.scoped(`${node.name}:gemm`, () => {
        const tapWeight = record(
          b.node('Slice', [
            w,
            b.int64Values(tap),
            b.int64Values([tap[0] + 1, tap[1] + 1]),
            b.int64Values([2, 3]),
          ]),
          [o, i, 1, 1],
        );
        const matrix = record(b.node('Reshape', [tapWeight, b.int64Values([o, i])]), [o, i]);
        if (batchLast) {
          let data = record(b.node('Reshape', [x, b.int64Values([c, h, width, n])]), [c, h, width, n]);
          if (h !== 1 || width !== 1) {
            const ends = b.int64Values([1, 1]);
            const sliced = b.node('Slice', [data, b.int64Values([0, 0]), ends, b.int64Values([1, 2])]);
            data = record(sliced, [c, 1, 1, n]);
          }
          const columns = record(b.node('Reshape', [data, b.int64Values([c, n])]), [c, n]);
          const inputs = [matrix, columns];
          if (bias) inputs.push(record(b.node('Reshape', [bias, b.int64Values([o, 1])]), [o, 1]));
          const product = record(b.node('Gemm', inputs), [o, n]);
          return b.node('Reshape', [product, b.int64Values(batchLastView([n, o, 1, 1]))]);
        }
        let pixel = x;
        if (h !== 1 || width !== 1) {
          pixel = record(
            b.node('Slice', [x, b.int64Values([0, 0]), b.int64Values([1, 1]), b.int64Values([2, 3])]),
            [n, c, 1, 1],
          );
        }
        const rowsIn = record(b.node('Reshape', [pixel, b.int64Values([n, c])]), [n, c]);
        const product = record(
          b.node('Gemm', bias ? [rowsIn, matrix, bias] : [rowsIn, matrix], { transB: int(1) }),
          [n, o],
        );
        return b.node('Reshape', [product, b.int64Values([n, o, 1, 1])]);
      }),
    );
    rewritten++;
  }
  return rewritten;
}

/** Limits of the whole-map rewrite (see {@link rewriteWholeMapConvs}). */
export interface WholeMapLimits {
  /** Largest output map (Ho * Wo) rewritten. */
  maxOutputPixels: number;
  /** Largest ratio of the product's multiply-adds to the convolution's own (taps that read padding excluded). */
  maxWaste: number;
}

/**
 * For a conv on a small map: which kernel tap connects input pixel q to output pixel p (-1: none), as
 * `taps[q * P + p]`, and the number of connected pairs. Null when it is not a candidate (grouped, dilated, an
 * input pixel that no output reads, or a map or waste over the limits).
 */
export function wholeMapTaps(
  node: NodeProto,
  shapeOf: (value: Value) => readonly number[] | undefined,
  limits: WholeMapLimits,
): { taps: Int32Array; pairs: number } | null {
  if (node.opType !== 'Conv') return null;
  const x = shapeOf(node.inputs[0]);
  const w = shapeOf(node.inputs[1]);
  const y = shapeOf(node.outputs[0]);
  if (!x || !w || !y || x.length !== 4) return null;
  const groupAttribute = node.attributes.group;
  if (groupAttribute?.kind === 'int' && groupAttribute.value !== 1) return null;
  if (intsAttribute(node, 'dilations', [1, 1]).some((d) => d !== 1)) return null;
  const [h, width] = [x[2], x[3]];
  const [kh, kw] = [w[2], w[3]];
  const [ho, wo] = [y[2], y[3]];
  const pads = intsAttribute(node, 'pads', [0, 0, 0, 0]);
  const strides = intsAttribute(node, 'strides', [1, 1]);
  const [q, p] = [h * width, ho * wo];
  if (p > limits.maxOutputPixels) return null;
  const taps = new Int32Array(q * p).fill(-1);
  const read = new Uint8Array(q);
  let pairs = 0;
  for (let oy = 0; oy < ho; oy++) {
    for (let ox = 0; ox < wo; ox++) {
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const iy = oy * strides[0] - pads[0] + ky;
          const ix = ox * strides[1] - pads[1] + kx;
          if (iy < 0 || ix < 0 || iy >= h || ix >= width) continue;
          const pixel = iy * width + ix;
          taps[pixel * p + oy * wo + ox] = ky * kw + kx;
          read[pixel] = 1;
          pairs++;
        }
      }
    }
  }
  if (read.includes(0) || (q * p) / pairs > limits.maxWaste) return null;
  return { taps, pairs };
}

/**
 * Rewrites convolutions on small maps as one product over the batch: x [N, C, H, W] viewed as [N, C*H*W] times a
 * [C*H*W, O*Ho*Wo] matrix assembled from the kernel (entry (c, q; o, p) is the tap connecting input pixel q to
 * output pixel p, or 0), viewed back as [N, O, Ho, Wo]. No layout change is needed: NCHW's C*H*W order is the
 * matrix's row order. The assembly is a product of the kernel [O*C, kh*kw] with a constant 0/1 matrix
 * [kh*kw, Q*P] (a few weight-sized passes), so its gradient comes from the Gemm rule like the rest.
 * ONNX Runtime runs a convolution with non-constant weights as an im2col and a product per image, whose few
 * columns (Ho*Wo: 4 on a 2x2 map) keep its kernels far from their speed; the batch product has N rows. It
 * multiplies by zeros where a pair is not connected, so it is only used where that waste is small (limits).
 * Convs that {@link rewriteSingleTapConvs} handles should be rewritten by it first (it slices out the one pixel).
 */
export function rewriteWholeMapConvs(
  b: OnnxBuilder,
  shapes: Map<Value, number[]>,
  limits: WholeMapLimits,
  layout: BatchLastPlan = NO_BATCH_LAST,
): number {
  const record = shapeRecorder(shapes);
  let rewritten = 0;
  for (let index = 0; index < b.nodeList.length; index++) {
    const node = b.nodeList[index];
    const plan = wholeMapTaps(node, (value) => shapes.get(value), limits);
    if (!plan) continue;
    const [x, w, bias] = node.inputs;
    const [n, c, h, width] = shapes.get(x) as number[];
    const [o, , kh, kw] = shapes.get(w) as number[];
    const [, , ho, wo] = shapes.get(node.outputs[0]) as number[];
    const [q, p, k] = [h * width, ho * wo, kh * kw];
    const batchLast = computesBatchLast(node, layout);
    const selection = new Float32Array(k * q * p);
    plan.taps.forEach((tap, pair) => {
      if (tap >= 0) selection[tap * q * p + pair] = 1;
    });
    b.replaceNode(index, () =>
      b.scoped(`${node.name}:whole-map`, () => {
        const select = b.floatConstant(
          `whole-map:${kh}x${kw}:${Array.from(plan.taps).join(',')}`,
          'whole_map_taps',
          [k, q * p],
          () => selection,
        );
        const kernel = record(b.node('Reshape', [w, b.int64Values([o * c, k])]), [o * c, k]);
        const spread = record(b.node('Gemm', [kernel, select]), [o * c, q * p]);
        const blocks = record(b.node('Reshape', [spread, b.int64Values([o, c, q, p])]), [o, c, q, p]);
        const ordered = record(b.node('Transpose', [blocks], { perm: ints([1, 2, 0, 3]) }), [c, q, o, p]);
        const matrix = record(b.node('Reshape', [ordered, b.int64Values([c * q, o * p])]), [c * q, o * p]);
        // Batch-last, x is [C, H, W, N] data: [C*H*W, N] in the matrix's row order, and the matrix transposed
        // times it is [O*Ho*Wo, N]. NCHW: [N, C*H*W] times the matrix, [N, O*Ho*Wo].
        const flatShape = batchLast ? [c * q, n] : [n, c * q];
        const flat = record(b.node('Reshape', [x, b.int64Values(flatShape)]), flatShape);
        const product = batchLast
          ? record(b.node('Gemm', [matrix, flat], { transA: int(1) }), [o * p, n])
          : record(b.node('Gemm', [flat, matrix]), [n, o * p]);
        const mapShape = batchLast ? batchLastView([n, o, ho, wo]) : [n, o, ho, wo];
        const maps = b.node('Reshape', [product, b.int64Values(mapShape)]);
        if (!bias) return maps;
        record(maps, mapShape);
        const perChannel = record(b.node('Reshape', [bias, b.int64Values([1, o, 1, 1])]), [1, o, 1, 1]);
        return b.node('Add', [maps, perChannel]);
      }),
    );
    rewritten++;
  }
  return rewritten;
}
