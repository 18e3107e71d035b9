/**
 * Convolutions on small maps as one explicit im2col and one product over the whole batch, a rewrite of the
 * training forward once shapes are known (after whole-map-convs.ts's, which takes the smallest maps).
 * ONNX Runtime runs a convolution with non-constant weights (every training graph's) as an im2col and a product
 * per image: on a 4x4 map each product has 16 columns, and the 3x3 convs of the CIFAR case's stage 2 ran at 37
 * GFLOP/s, forward and input gradient alike. Here the columns of all images are built once ([C*T, Ho*Wo*N]: X
 * as [C, H, W, N], padded, one Slice per tap, side by side), and the conv is the product of the kernel viewed as
 * [O, C*T] with them. Stride-1 1x1 convs need no columns (X as [C, H*W*N] is one) and are taken on the smallest
 * maps only (`maxPointwiseOutputPixels`). Its gradients are derived like any others: the filter gradient is the product
 * of dY with the same columns (built once for both passes), the input gradient a product with the kernel followed
 * by the Slices' and Pad's adjoints (a col2im). Strided convs take strided Slices (the CIFAR case's stage
 * transitions: 3x3 and 1x1 stride 2 onto 4x4 maps, whose input gradients ONNX Runtime ran as ConvTranspose).
 */
import { int, ints, type OnnxBuilder, type Value } from '../builder.js';
import { intsAttribute, type NodeProto } from '../onnx-proto.js';

/** Which convolutions the rewrite takes (see {@link rewriteIm2colConvs}). */
export interface Im2colLimits {
  /** Largest output map (Ho * Wo) rewritten. */
  maxOutputPixels: number;
  /** Largest output map of a stride-1 1x1 conv rewritten (such convs need no im2col, only the batch-last view). */
  maxPointwiseOutputPixels?: number;
}

const intsOf = (node: NodeProto, name: string, fallback: number[]) => intsAttribute(node, name) ?? fallback;

/** Whether `node` is an undilated, ungrouped 2-D conv within the limits, other than a stride-1 1x1 conv. */
function qualifies(node: NodeProto, shapes: Map<Value, number[]>, limits: Im2colLimits): boolean {
  if (node.opType !== 'Conv') return false;
  const x = shapes.get(node.inputs[0]);
  const w = shapes.get(node.inputs[1]);
  const y = shapes.get(node.outputs[0]);
  if (!x || !w || !y || x.length !== 4) return false;
  const groupAttribute = node.attributes.group;
  if (groupAttribute?.kind === 'int' && groupAttribute.value !== 1) return false;
  if (intsOf(node, 'dilations', [1, 1]).some((d) => d !== 1)) return false;
  // A stride-1 1x1 conv needs no im2col, and as a product over the batch it was not faster (0.6-1.2x).
  const strided = intsOf(node, 'strides', [1, 1]).some((s) => s !== 1);
  if (w[2] * w[3] === 1 && !strided) return y[2] * y[3] <= (limits.maxPointwiseOutputPixels ?? 0);
  return y[2] * y[3] <= limits.maxOutputPixels;
}

/** Rewrites every qualifying conv of `b` (see the module comment); records the shapes of the values it adds. */
export function rewriteIm2colConvs(
  b: OnnxBuilder,
  shapes: Map<Value, number[]>,
  limits: Im2colLimits,
): number {
  let rewritten = 0;
  for (let index = 0; index < b.nodeList.length; index++) {
    const node = b.nodeList[index];
    if (!qualifies(node, shapes, limits)) continue;
    const [x, w, bias] = node.inputs;
    const [n, c, h, width] = shapes.get(x) as number[];
    const [o, , kh, kw] = shapes.get(w) as number[];
    const [, , ho, wo] = shapes.get(node.outputs[0]) as number[];
    const pads = intsOf(node, 'pads', [0, 0, 0, 0]);
    const [sh, sw] = intsOf(node, 'strides', [1, 1]);
    const taps = kh * kw;
    const pixels = n * ho * wo;
    const record = (value: Value, shape: number[]) => {
      shapes.set(value, shape);
      return value;
    };
    b.replaceNode(index, () =>
      b.scoped(`${node.name}:im2col`, () => {
        // [C, H, W, N]: the taps slice and pad outer axes, copying runs of N values (and their adjoints too).
        const batchLast = record(b.node('Transpose', [x], { perm: ints([1, 2, 3, 0]) }), [c, h, width, n]);
        const paddedShape = [c, h + pads[0] + pads[2], width + pads[1] + pads[3], n];
        const padded = pads.some((p) => p !== 0)
          ? record(
              b.node('Pad', [batchLast, b.int64Values([0, pads[0], pads[1], 0, 0, pads[2], pads[3], 0])]),
              paddedShape,
            )
          : batchLast;
        const tapValues: Value[] = [];
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const [bottom, right] = [i + sh * (ho - 1) + 1, j + sw * (wo - 1) + 1];
            const whole =
              i === 0 &&
              j === 0 &&
              sh === 1 &&
              sw === 1 &&
              bottom === paddedShape[1] &&
              right === paddedShape[2];
            tapValues.push(
              whole
                ? padded
                : record(
                    b.node('Slice', [
                      padded,
                      b.int64Values([i, j]),
                      b.int64Values([bottom, right]),
                      b.int64Values([1, 2]),
                      b.int64Values([sh, sw]),
                    ]),
                    [c, ho, wo, n],
                  ),
            );
          }
        }
        // Row channel * taps + tap, the order of the kernel's own [O, C, kh, kw] (a kernel transpose to tap-major
        // order ran at under 1 GB/s, 12 ms per CIFAR step); column (y, x, image). Each tap as [C, pixels], side
        // by side.
        const rows = tapValues.map((tap) =>
          record(b.node('Reshape', [tap, b.int64Values([c, pixels])]), [c, pixels]),
        );
        const sideBySide =
          taps === 1 ? rows[0] : record(b.node('Concat', rows, { axis: int(1) }), [c, taps * pixels]);
        const columns = record(b.node('Reshape', [sideBySide, b.int64Values([c * taps, pixels])]), [
          c * taps,
          pixels,
        ]);
        const kernel = record(b.node('Reshape', [w, b.int64Values([o, c * taps])]), [o, c * taps]);
        const inputs = [kernel, columns];
        if (bias) inputs.push(record(b.node('Reshape', [bias, b.int64Values([o, 1])]), [o, 1]));
        const product = record(b.node('Gemm', inputs), [o, pixels]);
        const maps = record(b.node('Reshape', [product, b.int64Values([o, ho, wo, n])]), [o, ho, wo, n]);
        return b.node('Transpose', [maps], { perm: ints([3, 0, 1, 2]) });
      }),
    );
    rewritten++;
  }
  return rewritten;
}
