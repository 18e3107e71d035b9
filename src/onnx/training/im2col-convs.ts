/**
 * Convolutions on small maps as one explicit im2col and one product over the whole batch, a rewrite of the
 * training forward once shapes are known (after whole-map-convs.ts's, which takes the smallest maps).
 * ONNX Runtime runs a convolution with non-constant weights (every training graph's) as an im2col and a product
 * per image: on a 4x4 map each product has 16 columns, and the 3x3 convs of the CIFAR case's stage 2 ran at 37
 * GFLOP/s, forward and input gradient alike. Here the columns of all images are built once ([C*T, Ho*Wo*N]: X
 * as [C, H, W, N], padded, one Slice per tap, side by side), and the conv is the product of the kernel viewed as
 * [O, C*T] with them. Stride-1 1x1 convs need no columns (X as [C, H*W*N] is one) and are taken on the smallest
 * maps only (`maxPointwiseOutputPixels`). The filter gradient is the product of dY with the same columns (built
 * once for both passes). The input gradient of a stride-1 conv is written in closed form (a gradient region): the
 * im2col of dY, padded, times the kernel, i.e. a correlation with the flipped kernel. Strided convs take strided
 * Slices (the CIFAR case's stage transitions: 3x3 and 1x1 stride 2 onto 4x4 maps, whose input gradients ONNX
 * Runtime ran as ConvTranspose), and their gradients are derived like any others: the input gradient is the
 * product with the kernel followed by the Slices' and Pad's adjoints (a col2im).
 */
import { int, ints, type OnnxBuilder, type Value } from '../builder.js';
import { intsAttribute, type NodeProto } from '../onnx-proto.js';
import { type BatchLastPlan, channelMajor, fromChannelMajor, NO_BATCH_LAST } from './batch-last.js';
import { type ShapeRecorder, shapeRecorder } from './shape-probe.js';

/** Which convolutions the rewrite takes (see {@link rewriteIm2colConvs}). */
export interface Im2colLimits {
  /** Largest output map (Ho * Wo) rewritten. */
  maxOutputPixels: number;
  /** Largest output map of a stride-1 1x1 conv rewritten (such convs need no im2col, only the batch-last view). */
  maxPointwiseOutputPixels?: number;
}

/** Whether `node` is an undilated, ungrouped 2-D conv within the limits (its own for stride-1 1x1 convs). */
export function isIm2colConv(
  node: NodeProto,
  shapes: ReadonlyMap<Value, number[]>,
  limits: Im2colLimits,
): boolean {
  if (node.opType !== 'Conv') return false;
  const x = shapes.get(node.inputs[0]);
  const w = shapes.get(node.inputs[1]);
  const y = shapes.get(node.outputs[0]);
  if (!x || !w || !y || x.length !== 4) return false;
  const groupAttribute = node.attributes.group;
  if (groupAttribute?.kind === 'int' && groupAttribute.value !== 1) return false;
  if (intsAttribute(node, 'dilations', [1, 1]).some((d) => d !== 1)) return false;
  // A stride-1 1x1 conv needs no im2col, only its input as [C, H*W*N]; as a product over the batch it is faster
  // on small maps (CIFAR step: 780 -> 659 ms with 2x2 and 4x4 maps; with activations batch-last, 8x8 too).
  const strided = intsAttribute(node, 'strides', [1, 1]).some((s) => s !== 1);
  if (w[2] * w[3] === 1 && !strided) return y[2] * y[3] <= (limits.maxPointwiseOutputPixels ?? 0);
  return y[2] * y[3] <= limits.maxOutputPixels;
}

/** A [channels, H, W, N] map and the shapes of what is cut from it (see {@link tapColumns}). */
interface TapSource {
  map: Value;
  shape: number[];
}

/**
 * Columns [channels * taps, Ho * Wo * N] of a [channels, H, W, N] map: row channel * taps + t is tap t's window,
 * which starts at `starts[t]` and takes every `steps`-th pixel; each window viewed as [channels, pixels], the
 * windows side by side. A window that is the whole map is the map itself.
 * `differentiable`: built from Slices and a Concat, whose gradients the differentiator derives (a col2im);
 * otherwise (columns inside a closed-form gradient region) one Gather of every window's pixels from the map
 * viewed as [channels, H*W, N], which copies runs of N values and writes the columns once: 2.4-2.7x faster than
 * the Slices and the Concat (3x3 taps of [64-256, 8x8 or 4x4, 128] maps).
 */
function tapColumns(
  b: OnnxBuilder,
  record: ShapeRecorder,
  source: TapSource,
  starts: Array<[number, number]>,
  [ho, wo]: [number, number],
  [sh, sw]: [number, number],
  differentiable: boolean,
): Value {
  const [channels, h, w, n] = source.shape;
  const pixels = ho * wo * n;
  const whole = (top: number, left: number) =>
    top === 0 && left === 0 && sh === 1 && sw === 1 && ho === h && wo === w;
  if (starts.length === 1 && whole(...starts[0])) {
    return record(b.node('Reshape', [source.map, b.int64Values([channels, pixels])]), [channels, pixels]);
  }
  const columnShape = [channels * starts.length, pixels];
  if (!differentiable) {
    const indices = starts.flatMap(([top, left]) =>
      Array.from({ length: ho * wo }, (_, p) => (top + sh * Math.floor(p / wo)) * w + left + sw * (p % wo)),
    );
    const flat = record(b.node('Reshape', [source.map, b.int64Values([channels, h * w, n])]), [
      channels,
      h * w,
      n,
    ]);
    const gathered = b.node('Gather', [flat, b.int64Values(indices)], { axis: int(1) });
    record(gathered, [channels, indices.length, n]);
    return record(b.node('Reshape', [gathered, b.int64Values(columnShape)]), columnShape);
  }
  const rows = starts.map(([top, left]) => {
    const [bottom, right] = [top + sh * (ho - 1) + 1, left + sw * (wo - 1) + 1];
    const window = whole(top, left)
      ? source.map
      : record(
          b.node('Slice', [
            source.map,
            b.int64Values([top, left]),
            b.int64Values([bottom, right]),
            b.int64Values([1, 2]),
            b.int64Values([sh, sw]),
          ]),
          [channels, ho, wo, n],
        );
    return record(b.node('Reshape', [window, b.int64Values([channels, pixels])]), [channels, pixels]);
  });
  const sideBySide =
    rows.length === 1
      ? rows[0]
      : record(b.node('Concat', rows, { axis: int(1) }), [channels, rows.length * pixels]);
  return record(b.node('Reshape', [sideBySide, b.int64Values(columnShape)]), columnShape);
}

/** `x` [channels, H, W, N] padded by `pads` (top, left, bottom, right) with zeros, or itself. */
function padMap(
  b: OnnxBuilder,
  record: ShapeRecorder,
  x: TapSource,
  [top, left, bottom, right]: number[],
): TapSource {
  if (top === 0 && left === 0 && bottom === 0 && right === 0) return x;
  const [channels, h, w, n] = x.shape;
  const shape = [channels, h + top + bottom, w + left + right, n];
  const map = record(b.node('Pad', [x.map, b.int64Values([0, top, left, 0, 0, bottom, right, 0])]), shape);
  return { map, shape };
}

/**
 * Rewrites every qualifying conv of `b` (see the module comment); records the shapes of the values it adds.
 * Inputs and outputs in `layout`'s batch-last values are read and written as such (batch-last.ts).
 */
export function rewriteIm2colConvs(
  b: OnnxBuilder,
  shapes: Map<Value, number[]>,
  limits: Im2colLimits,
  layout: BatchLastPlan = NO_BATCH_LAST,
): number {
  const record = shapeRecorder(shapes);
  let rewritten = 0;
  for (let index = 0; index < b.nodeList.length; index++) {
    const node = b.nodeList[index];
    if (!isIm2colConv(node, shapes, limits)) continue;
    const [x, w, bias] = node.inputs;
    const batchLastIn = layout.values.has(x);
    const batchLastOut = layout.values.has(node.outputs[0]);
    const [n, c, h, width] = shapes.get(x) as number[];
    const [o, , kh, kw] = shapes.get(w) as number[];
    const [, , ho, wo] = shapes.get(node.outputs[0]) as number[];
    const pads = intsAttribute(node, 'pads', [0, 0, 0, 0]);
    const strides = intsAttribute(node, 'strides', [1, 1]) as [number, number];
    const taps = kh * kw;
    const pixels = n * ho * wo;
    const tapStarts = (flip: boolean) =>
      Array.from({ length: taps }, (_, t): [number, number] =>
        flip ? [kh - 1 - Math.floor(t / kw), kw - 1 - (t % kw)] : [Math.floor(t / kw), t % kw],
      );
    // Stride 1 (pads below the kernel's extent): the input gradient as the im2col of dY times the kernel (a
    // correlation with the flipped kernel), not the derived col2im (the product's nine-tap gradient split, each
    // tap padded to the whole map, summed): fewer full-size passes and no nine-way Sum.
    const closedForm =
      strides[0] === 1 && strides[1] === 1 && pads.every((p, i) => p <= (i % 2 ? kw : kh) - 1);
    let columns = '';
    const forward = () => {
      // [C, H, W, N]: the taps slice and pad outer axes, copying runs of N values (and their adjoints too).
      const batchLast = channelMajor(b, record, x, [n, c, h, width], batchLastIn);
      // ONNX orders a 2-D conv's pads (top, left, bottom, right), as padMap takes them.
      const padded = padMap(b, record, { map: batchLast, shape: [c, h, width, n] }, pads);
      // Row channel * taps + tap, the order of the kernel's own [O, C, kh, kw] (a kernel transpose to tap-major
      // order ran at under 1 GB/s, 12 ms per CIFAR step); column (y, x, image).
      columns = tapColumns(b, record, padded, tapStarts(false), [ho, wo], strides, !closedForm);
      const kernel = record(b.node('Reshape', [w, b.int64Values([o, c * taps])]), [o, c * taps]);
      const inputs = [kernel, columns];
      if (bias) inputs.push(record(b.node('Reshape', [bias, b.int64Values([o, 1])]), [o, 1]));
      const product = record(b.node('Gemm', inputs), [o, pixels]);
      return fromChannelMajor(b, record, product, [n, o, ho, wo], batchLastOut);
    };
    const backward = (g: OnnxBuilder, dy: Value): Array<Value | null> => {
      const dyMaps = channelMajor(g, record, dy, [n, o, ho, wo], batchLastOut);
      const dyRows = record(g.node('Reshape', [dyMaps, g.int64Values([o, pixels])]), [o, pixels]);
      const dKernel = record(g.node('Gemm', [dyRows, columns], { transB: int(1) }), [o, c * taps]);
      const dw = g.node('Reshape', [dKernel, g.int64Values([o, c, kh, kw])]);
      // dY padded so that every tap's window of the flipped kernel has the input's extent H x W.
      const dyPadded = padMap(g, record, { map: dyMaps, shape: [o, ho, wo, n] }, [
        kh - 1 - pads[0],
        kw - 1 - pads[1],
        kh - 1 - pads[2],
        kw - 1 - pads[3],
      ]);
      const dyColumns = tapColumns(g, record, dyPadded, tapStarts(true), [h, width], [1, 1], false);
      // Kernel as [C, O * taps] (row o * taps + tap, like dyColumns); a 1x1 kernel needs no transpose.
      const kernelByInput =
        taps === 1
          ? g.node('Reshape', [w, g.int64Values([o, c])])
          : g.node('Reshape', [
              g.node('Transpose', [w], { perm: ints([1, 0, 2, 3]) }),
              g.int64Values([c, o * taps]),
            ]);
      const dxRows = g.node('Gemm', [kernelByInput, dyColumns], { transA: int(taps === 1 ? 1 : 0) });
      const dx = fromChannelMajor(g, record, dxRows, [n, c, h, width], batchLastIn);
      if (!bias) return [dx, dw];
      return [dx, dw, g.node('ReduceSum', [dyRows, g.int64Values([1])], { keepdims: int(0) })];
    };
    b.replaceNode(index, () =>
      b.scoped(`${node.name}:im2col`, () =>
        closedForm ? b.region(node.inputs.slice(0, bias ? 3 : 2), forward, backward) : forward(),
      ),
    );
    rewritten++;
  }
  return rewritten;
}
