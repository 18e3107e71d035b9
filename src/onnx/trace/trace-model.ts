/**
 * `traceModel`: a classifier's graph, recorded from its own TF.js forward pass (`forwardIntermediates`) on
 * symbolic tensors. This is how the ONNX export and the training graphs get every model: there is no second
 * definition of any architecture.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ClassifierModel } from '../../models/classifier.js';
import { withTracer } from '../../nn/trace-hook.js';
import type { OnnxBuilder, Value } from '../builder.js';
import { conv2d } from '../nn.js';
import type { Dim } from '../onnx-proto.js';
import { onTraceBackend } from './backend.js';
import { withKernelTracer } from './kernels.js';
import { PRIMITIVE_WRITERS } from './primitives.js';
import { GraphTracer } from './tracer.js';

export interface TracedModel {
  /** The logits [N, numClasses]. */
  logits: Value;
  /** Each named intermediate of `forwardIntermediates` (NCHW images, [N, C] vectors), written on request. */
  intermediates: Map<string, () => Value>;
}

/** Batch traced where the graph's batch is symbolic (2 keeps the batch apart from the size-1 axes). */
const SYMBOLIC_BATCH_TRACE = 2;
/** Image sizes tried, in order, where the graph's height and width are symbolic: the first the model accepts. */
const SYMBOLIC_SIZE_TRACE = [224, 256, 299, 32, 64, 128];

function traceSize(model: ClassifierModel): number {
  for (const size of SYMBOLIC_SIZE_TRACE) {
    try {
      model.checkInputSize(size, size);
      return size;
    } catch {}
  }
  throw new Error(`no image size to trace ${model.registryName ?? model.constructor.name} at`);
}

/**
 * Writes `model`'s graph from the NCHW image value `input` of dims `dims` ([N, 3, H, W]; a string dim is
 * symbolic). Inference or training form and BN folding follow the builder's options.
 */
export function traceModel(
  b: OnnxBuilder,
  model: ClassifierModel,
  input: Value,
  dims: readonly Dim[],
): TracedModel {
  const batch = typeof dims[0] === 'number' ? dims[0] : SYMBOLIC_BATCH_TRACE;
  const fixedSize = typeof dims[2] === 'number' && typeof dims[3] === 'number';
  const side = fixedSize ? null : traceSize(model);
  const [height, width] = side === null ? [dims[2] as number, dims[3] as number] : [side, side];
  const tracer = new GraphTracer(b, { fixedSize, batch, primitives: PRIMITIVE_WRITERS });
  tracer.writeConv = (x, conv, override) => conv2d(b, x, conv, null, override);
  const syms = onTraceBackend(() =>
    withKernelTracer(tracer, () =>
      withTracer(tracer, () => {
        const x = tracer.tensor({ shape: [batch, height, width, 3], layout: 'nchw', value: input });
        const outputs = model.forwardIntermediates(x as tf.Tensor4D);
        const known = new Map(Object.entries(outputs).map(([name, t]) => [name, tracer.symOf(t)]));
        tf.dispose([x, ...Object.values(outputs)]);
        return known;
      }),
    ),
  );
  const logits = syms.get('logits');
  if (!logits) throw new Error('forwardIntermediates gave no logits');
  syms.delete('logits');
  const intermediates = new Map([...syms].map(([name, sym]) => [name, () => tracer.value(sym)]));
  return { logits: tracer.value(logits, 'plain'), intermediates };
}
