/**
 * The R-CNN RoI heads as ONNX graphs, traced from the detector's modules like the dense part (dense-graph.ts):
 * the Shared2FC box head on [n, 7, 7, C] RoI features and the FCN mask head on [k, 14, 14, C], n and k symbolic
 * (`rois`), NHWC in and out as the TF.js heads take and give them.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { ints } from '../onnx/builder.js';
import { DEFAULT_OPSET } from '../onnx/export.js';
import { registerPrimitiveWriter } from '../onnx/trace/primitives.js';
import { floatData } from '../onnx/weights.js';
import { detectorTracer, encodeDetectorGraph, traceForward } from './dense-graph.js';
import type { RLADetector } from './detector.js';
import { ConvTranspose2x2 } from './mask-head.js';

/** Input name of the RoI head graphs. */
export const ROI_INPUT = 'rois';
/** RoIs traced (the graph's count is symbolic; 2 keeps it apart from size-1 axes). */
const TRACE_ROIS = 2;

// The mask head's 2x2 stride-2 transposed conv: ONNX ConvTranspose takes PyTorch's [in, out, kH, kW] weight as is.
registerPrimitiveWriter(ConvTranspose2x2, (t, module, [x]) => {
  const layer = module as ConvTranspose2x2;
  const path = t.b.pathOf(layer) ?? 'upsample';
  const weight = t.b.state(
    layer.weight,
    'parameter',
    `${path}.weight`,
    `${path}.weight`,
    [layer.inChannels, layer.outChannels, 2, 2],
    () => floatData(layer.weight),
  );
  const bias = t.b.state(layer.bias, 'parameter', `${path}.bias`, `${path}.bias`, [layer.outChannels], () =>
    floatData(layer.bias),
  );
  const value = t.b.scoped(layer, () =>
    t.b.node('ConvTranspose', [t.value(x, 'nchw'), weight, bias], {
      kernel_shape: ints([2, 2]),
      strides: ints([2, 2]),
    }),
  );
  const [n, h, w] = x.shape;
  return { shape: [n, 2 * h, 2 * w, layer.outChannels], layout: 'nchw', value };
});

function roiGraph(
  detector: RLADetector,
  part: string,
  roiSize: number,
  forward: (x: tf.Tensor4D) => tf.Tensor[],
  outputs: string[],
  opset: number,
): Uint8Array {
  const channels = detector.config.neck.outChannels;
  const { b, tracer } = detectorTracer(detector, opset, { fixedSize: true, batch: TRACE_ROIS });
  const input = b.input(ROI_INPUT, ['rois', roiSize, roiSize, channels]);
  const syms = traceForward(tracer, () => {
    const x = tracer.tensor({
      shape: [TRACE_ROIS, roiSize, roiSize, channels],
      layout: 'plain',
      value: input,
    });
    const results = forward(x as tf.Tensor4D);
    return results.map((result) => tracer.symOf(result));
  });
  syms.forEach((sym, i) => {
    b.output(tracer.value(sym, 'plain'), outputs[i], null);
  });
  return encodeDetectorGraph(
    b,
    detector,
    part,
    `${part}: input "${ROI_INPUT}" NHWC [n, ${roiSize}, ${roiSize}, C]`,
    opset,
  );
}

/** The box head graph: `rois` [n, 7, 7, C] -> `cls` [n, classes + 1], `reg` [n, classes * 4]. */
export function exportBoxHeadGraph(detector: RLADetector, options: { opset?: number } = {}): Uint8Array {
  const head = detector.roi_head?.bbox_head;
  if (!head) throw new Error(`${detector.configName}: the detector has no box head`);
  return roiGraph(
    detector,
    'bbox_head',
    7,
    (x) => {
      const { cls, reg } = head.forward(x);
      return [cls, reg];
    },
    ['cls', 'reg'],
    options.opset ?? DEFAULT_OPSET,
  );
}

/** The mask head graph: `rois` [k, 14, 14, C] -> `masks` [k, 28, 28, classes]. */
export function exportMaskHeadGraph(detector: RLADetector, options: { opset?: number } = {}): Uint8Array {
  const head = detector.roi_head?.mask_head;
  if (!head) throw new Error(`${detector.configName}: the detector has no mask head`);
  return roiGraph(
    detector,
    'mask_head',
    14,
    (x) => [head.forward(x)],
    ['masks'],
    options.opset ?? DEFAULT_OPSET,
  );
}
