/**
 * The ONNX Runtime engine of a detector (`createDetector(name, { engine: 'ort' })`): the dense part (backbone,
 * FPN, dense head; see dense-graph.ts) runs as one ONNX graph on onnxruntime-node, the data-dependent rest
 * (anchors, proposals, RoIAlign, box / mask heads, NMS, pasting) stays in the detector's JS / TF.js code.
 * The graph is traced once from the detector's modules and weights, so load the weights first.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as ort from 'onnxruntime-node';
import { type InferenceSessionOptions, loadOnnxRuntime, ortSessionOptions } from '../onnx/session.js';
import { DENSE_INPUT, denseOutputNames, exportDenseGraph } from './dense-graph.js';
import type { DenseEngine, DenseOutputs, RLADetector } from './detector.js';

class OrtDenseEngine implements DenseEngine {
  readonly name = 'ort';

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly runtime: typeof ort,
    private readonly levels: number,
  ) {}

  async run(input: tf.Tensor4D): Promise<DenseOutputs> {
    const data = (await input.data()) as Float32Array;
    const feeds = { [DENSE_INPUT]: new this.runtime.Tensor('float32', data, [...input.shape]) };
    const results = await this.session.run(feeds);
    const output = (name: string) => {
      const tensor = results[name];
      if (!tensor) throw new Error(`the detector's ONNX graph has no output ${name}`);
      return { data: tensor.data as Float32Array, shape: [...tensor.dims] };
    };
    const dense: DenseOutputs = { maps: [], heads: [] };
    for (let i = 0; i < this.levels; i++) {
      const names = denseOutputNames(i);
      const level = output(names.level);
      const [, height, width, channels] = level.shape;
      dense.maps.push({ data: level.data, height, width, channels });
      const cls = output(names.cls);
      const reg = output(names.reg);
      dense.heads.push({ logits: cls.data, deltas: reg.data, clsShape: cls.shape, regShape: reg.shape });
    }
    return dense;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Traces `detector`'s dense part into ONNX and opens it with ONNX Runtime (all graph optimizations, sequential
 * execution; `options.threads` intra-op threads). Hand the result to `detector.setDenseEngine`.
 */
export async function createOrtDenseEngine(
  detector: RLADetector,
  options: InferenceSessionOptions = {},
): Promise<DenseEngine> {
  const runtime = await loadOnnxRuntime();
  const bytes = exportDenseGraph(detector, { opset: options.exportOptions?.opset });
  const session = await runtime.InferenceSession.create(bytes, ortSessionOptions(options));
  return new OrtDenseEngine(session, runtime, detector.config.neck.numOuts);
}
