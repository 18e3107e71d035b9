/**
 * The contract every rla-net model follows (timm-style): `forward`, `forwardFeatures`, `forwardHead`,
 * `forwardIntermediates`. All image tensors are NHWC float32; logits are [N, numClasses].
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module.js';

/** Receives named intermediate tensors during a forward pass (names as in the official fixtures). */
export type IntermediateSink = (name: string, tensor: tf.Tensor) => void;

/**
 * The intermediate name of block `block` of stage `stage` (both 0-based) in a stage of `blocksInStage` blocks:
 * `stage{s}` for the stage's last block, `stage{s}.block{b}` before it (1-based, as the official fixtures).
 */
export function blockName(stage: number, block: number, blocksInStage: number): string {
  return block === blocksInStage - 1 ? `stage${stage + 1}` : `stage${stage + 1}.block${block + 1}`;
}

/** Final features of the backbone: main path `x` and, for RLA models, the hidden state `h` (NHWC). */
export interface BackboneFeatures {
  x: tf.Tensor4D;
  h: tf.Tensor4D | null;
}

export abstract class ClassifierModel extends Module {
  abstract readonly numClasses: number;
  /** Registry name this model was built under (set by `createModel`), e.g. `rla_resnet50`. */
  registryName?: string;
  /** Options passed to `createModel`, so a saved model can be rebuilt from its file. */
  registryOptions?: import('./registry.js').ModelOptions;

  /** Throws a clear error when the official architecture cannot process this input size. */
  abstract checkInputSize(height: number, width: number): void;

  /** Runs the backbone; reports intermediates to `sink` when given. Input NHWC. */
  protected abstract runBackbone(x: tf.Tensor4D, sink?: IntermediateSink): BackboneFeatures;

  /** Runs the head on backbone features; reports intermediates to `sink` when given. */
  protected abstract runHead(features: BackboneFeatures, sink?: IntermediateSink): tf.Tensor2D;

  private checkInput(x: tf.Tensor4D): void {
    if (x.rank !== 4 || x.shape[3] !== 3) {
      throw new Error(`expected an NHWC image batch [N, H, W, 3], got shape [${x.shape}]`);
    }
    this.checkInputSize(x.shape[1], x.shape[2]);
  }

  /** Logits [N, numClasses] for an NHWC batch. */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    this.checkInput(x);
    return tf.tidy(() => this.runHead(this.runBackbone(x)));
  }

  /** Backbone output (before the head) for an NHWC batch. The caller disposes the tensors. */
  forwardFeatures(x: tf.Tensor4D): BackboneFeatures {
    this.checkInput(x);
    const [features, h] = tf.tidy(() => {
      const result = this.runBackbone(x);
      return result.h ? [result.x, result.h] : [result.x];
    });
    return { x: features as tf.Tensor4D, h: (h as tf.Tensor4D | undefined) ?? null };
  }

  /** Logits from `forwardFeatures` output. */
  forwardHead(features: BackboneFeatures): tf.Tensor2D {
    return tf.tidy(() => this.runHead(features));
  }

  /**
   * Per-stage outputs for detection/segmentation backbones: the main path `x` AND the RLA hidden state `h`
   * (null for models without one) at each stage's resolution, NHWC. (The official mmdetection backbone drops `h`.)
   * The caller disposes the tensors.
   */
  forwardStages(x: tf.Tensor4D): Array<{ x: tf.Tensor4D; h: tf.Tensor4D | null }> {
    this.checkInput(x);
    // Only the backbone runs: the head is not needed (and detection backbones have none).
    const stages = tf.tidy(() => {
      const named = new Map<string, tf.Tensor>();
      this.runBackbone(x, (name, tensor) => named.set(name, tensor));
      const kept: Array<{ x: tf.Tensor4D; h?: tf.Tensor4D }> = [];
      for (let s = 1; named.has(`stage${s}.x`); s++) {
        const h = named.get(`stage${s}.h`) as tf.Tensor4D | undefined;
        kept.push(
          h
            ? { x: named.get(`stage${s}.x`) as tf.Tensor4D, h }
            : { x: named.get(`stage${s}.x`) as tf.Tensor4D },
        );
      }
      return kept;
    });
    return stages.map((stage) => ({ x: stage.x, h: stage.h ?? null }));
  }

  /**
   * Logits plus every named intermediate (`stem.x`, `stageS.x`, `stageS.h`, `stageS.blockB.x`, `head.h`,
   * `head.features`, ...), all NHWC (flat ones [N, C]). The caller disposes them.
   */
  forwardIntermediates(x: tf.Tensor4D): Record<string, tf.Tensor> {
    this.checkInput(x);
    return tf.tidy(() => {
      const out: Record<string, tf.Tensor> = {};
      const sink: IntermediateSink = (name, tensor) => {
        out[name] = tensor;
      };
      out.logits = this.runHead(this.runBackbone(x, sink), sink);
      return out;
    });
  }
}
