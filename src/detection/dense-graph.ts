/**
 * The dense part of a detector as an ONNX graph, traced from the detector's own TF.js modules (src/onnx/trace):
 * RLA-ResNet stages -> FPN -> the per-level convolutional head (RPN head, or RetinaHead's towers + cls/reg convs).
 * One graph serves every image size: the input is symbolic `[1, height, width, 3]` (NHWC, normalised and padded
 * as `prepareImage` gives it) and nothing in the trace fixes a spatial size. Outputs are NHWC, as the TF.js
 * engine's tensors are, so the post-processing (anchors, proposal selection, RoIAlign, NMS, pasting) reads both
 * engines' results the same way: `neck.i` [1, H, W, C], `cls.i` [1, H, W, A * classes], `reg.i` [1, H, W, 4A].
 */
import * as tf from '@tensorflow/tfjs-core';
import { withTracer } from '../nn/trace-hook.js';
import { OnnxBuilder } from '../onnx/builder.js';
import { DEFAULT_OPSET } from '../onnx/export.js';
import { conv2d } from '../onnx/nn.js';
import { encodeModel, irVersionForOpset } from '../onnx/onnx-proto.js';
import { onTraceBackend } from '../onnx/trace/backend.js';
import { withKernelTracer } from '../onnx/trace/kernels.js';
import { PRIMITIVE_WRITERS } from '../onnx/trace/primitives.js';
import { GraphTracer } from '../onnx/trace/tracer.js';
import type { RLADetector } from './detector.js';

/** Name of the graph's input: the prepared image, NHWC [1, height, width, 3]. */
export const DENSE_INPUT = 'image';

/**
 * The size the graph is traced at (any accepted size gives the same graph). Height and width differ, and every
 * level's size differs from the others', so each traced spatial size names exactly one run-time size.
 */
const TRACE_SIZE: readonly [number, number] = [256, 320];

/** Output names of pyramid level `i`. */
export const denseOutputNames = (i: number) => ({ level: `neck.${i}`, cls: `cls.${i}`, reg: `reg.${i}` });

/** A builder over `detector`'s modules (weights under their mmdet names, BatchNorm folded) and its tracer. */
export function detectorTracer(
  detector: RLADetector,
  opset: number,
  shape: { fixedSize: boolean; batch: number },
): { b: OnnxBuilder; tracer: GraphTracer } {
  const b = new OnnxBuilder({ opset, foldBatchNorm: true }, detector);
  const tracer = new GraphTracer(b, { ...shape, primitives: PRIMITIVE_WRITERS });
  tracer.writeConv = (x, conv, override) => conv2d(b, x, conv, null, override);
  return { b, tracer };
}

/** Runs `record` (a forward pass of the detector's modules on symbolic tensors) into `tracer`'s graph. */
export function traceForward<T>(tracer: GraphTracer, record: () => T): T {
  return onTraceBackend(() => withKernelTracer(tracer, () => withTracer(tracer, record)));
}

/** The ModelProto bytes of a finished detector graph. */
export function encodeDetectorGraph(
  b: OnnxBuilder,
  detector: RLADetector,
  part: string,
  docString: string,
  opset: number,
): Uint8Array {
  return encodeModel({
    irVersion: irVersionForOpset(opset),
    opsetVersion: opset,
    producerName: 'rla-net',
    producerVersion: '0.1.0',
    docString: `${detector.configName} ${docString}, traced by rla-net`,
    graph: b.graph(`${detector.configName}.${part}`),
    metadata: { 'rla.detector': detector.configName, 'rla.part': part, 'rla.layout': 'NHWC' },
  });
}

/** The `.onnx` bytes of `detector`'s backbone, FPN and dense head (BatchNorm folded; opset default 17). */
export function exportDenseGraph(detector: RLADetector, options: { opset?: number } = {}): Uint8Array {
  const opset = options.opset ?? DEFAULT_OPSET;
  const { b, tracer } = detectorTracer(detector, opset, { fixedSize: false, batch: 1 });
  const input = b.input(DENSE_INPUT, [1, 'height', 'width', 3]);
  const head = detector.bbox_head ?? detector.rpn_head;
  if (!head) throw new Error(`${detector.configName}: the detector has no dense head`);
  const [height, width] = TRACE_SIZE;
  const levels = traceForward(tracer, () => {
    const x = tracer.tensor({ shape: [1, height, width, 3], layout: 'plain', value: input });
    const stages = detector.backbone.forwardStages(x as tf.Tensor4D);
    const pyramid = detector.neck.forward(stages.map((stage) => stage.x));
    const outputs = head.forward(pyramid);
    const syms = pyramid.map((level, i) => ({
      level: tracer.symOf(level),
      cls: tracer.symOf(outputs[i].cls),
      reg: tracer.symOf(outputs[i].reg),
    }));
    tf.dispose([x, ...stages.flatMap((s) => (s.h ? [s.x, s.h] : [s.x])), ...pyramid]);
    tf.dispose(outputs.flatMap(({ cls, reg }) => [cls, reg]));
    return syms;
  });
  // 'plain' stores the logical NHWC order: the graph transposes, the post-processing reads rows as they are.
  levels.forEach((syms, i) => {
    const names = denseOutputNames(i);
    b.output(tracer.value(syms.level, 'plain'), names.level, null);
    b.output(tracer.value(syms.cls, 'plain'), names.cls, null);
    b.output(tracer.value(syms.reg, 'plain'), names.reg, null);
  });
  return encodeDetectorGraph(
    b,
    detector,
    'dense',
    `backbone + FPN + dense head: input "${DENSE_INPUT}" NHWC [1, H, W, 3]`,
    opset,
  );
}
