/**
 * The ONNX Runtime engine of a detector (`createDetector(name, { engine: 'ort' })`): the network parts run as
 * ONNX graphs on onnxruntime-node (the dense part: backbone, FPN, dense head, see dense-graph.ts; the R-CNN box
 * and mask heads, see roi-graphs.ts), the data-dependent rest (anchors, proposal selection, RoIAlign, NMS,
 * pasting) stays in the detector's JS code. The graphs are traced once from the detector's modules and weights,
 * so load the weights first.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as ort from 'onnxruntime-node';
import { type InferenceSessionOptions, loadOnnxRuntime, ortSessionOptions } from '../onnx/session.js';
import { DENSE_INPUT, denseOutputNames, exportDenseGraph } from './dense-graph.js';
import type { BoxHeadOutput, DenseOutputs, DetectorEngine, RLADetector } from './detector.js';
import { exportBoxHeadGraph, exportMaskHeadGraph, ROI_INPUT } from './roi-graphs.js';

type Session = ort.InferenceSession;

class OrtDetectorEngine implements DetectorEngine {
  readonly name = 'ort';

  constructor(
    private readonly runtime: typeof ort,
    private readonly sessions: { dense: Session; box: Session | null; mask: Session | null },
    private readonly levels: number,
    private readonly channels: number,
  ) {
    if (!sessions.box) this.boxHead = undefined;
    if (!sessions.mask) this.maskHead = undefined;
  }

  /** Runs `session` on one float input; returns the named outputs' data and dims. */
  private async runSession(session: Session, input: string, data: Float32Array, dims: number[]) {
    const results = await session.run({ [input]: new this.runtime.Tensor('float32', data, dims) });
    return (name: string) => {
      const tensor = results[name];
      if (!tensor) throw new Error(`the detector's ONNX graph has no output ${name}`);
      return { data: tensor.data as Float32Array, shape: [...tensor.dims] };
    };
  }

  async dense(input: tf.Tensor4D): Promise<DenseOutputs> {
    const data = (await input.data()) as Float32Array;
    const output = await this.runSession(this.sessions.dense, DENSE_INPUT, data, [...input.shape]);
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

  boxHead? = async (features: Float32Array, count: number): Promise<BoxHeadOutput> => {
    const dims = [count, 7, 7, this.channels];
    const output = await this.runSession(this.sessions.box!, ROI_INPUT, features, dims);
    return { logits: output('cls').data, deltas: output('reg').data };
  };

  maskHead? = async (features: Float32Array, count: number): Promise<Float32Array> => {
    const dims = [count, 14, 14, this.channels];
    return (await this.runSession(this.sessions.mask!, ROI_INPUT, features, dims))('masks').data;
  };

  async release(): Promise<void> {
    const { dense, box, mask } = this.sessions;
    await Promise.all([dense.release(), box?.release(), mask?.release()]);
  }
}

/**
 * Traces `detector`'s network parts into ONNX and opens them with ONNX Runtime (all graph optimizations,
 * sequential execution; `options.threads` intra-op threads). Hand the result to `detector.setEngine`.
 */
export async function createOrtDetectorEngine(
  detector: RLADetector,
  options: InferenceSessionOptions = {},
): Promise<DetectorEngine> {
  const runtime = await loadOnnxRuntime();
  const graph = { opset: options.exportOptions?.opset };
  const open = (bytes: Uint8Array) => runtime.InferenceSession.create(bytes, ortSessionOptions(options));
  const dense = await open(exportDenseGraph(detector, graph));
  const roi = detector.roi_head;
  const box = roi ? await open(exportBoxHeadGraph(detector, graph)) : null;
  const mask = roi?.mask_head ? await open(exportMaskHeadGraph(detector, graph)) : null;
  return new OrtDetectorEngine(
    runtime,
    { dense, box, mask },
    detector.config.neck.numOuts,
    detector.config.neck.outChannels,
  );
}
