/**
 * The contract every rla-net model follows (timm-style): `forward`, `forwardFeatures`, `forwardHead`,
 * `forwardIntermediates`. All image tensors are NHWC float32; logits are [N, numClasses].
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module.js';

/** Receives named intermediate tensors during a forward pass (names as in the official fixtures). */
export type IntermediateSink = (name: string, tensor: tf.Tensor) => void;

/** Final features of the backbone: main path `x` and, for RLA models, the hidden state `h` (NHWC). */
export interface BackboneFeatures {
  x: tf.Tensor4D;
  h: tf.Tensor4D | null;
}

export abstract class ClassifierModel extends Module {
  abstract readonly numClasses: number;

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
    return tf.tidy(() => {
      const { x: features, h } = this.runBackbone(x);
      return h ? { x: features, h } : { x: features };
    }) as unknown as BackboneFeatures & { h: tf.Tensor4D | null };
  }

  /** Logits from `forwardFeatures` output. */
  forwardHead(features: BackboneFeatures): tf.Tensor2D {
    return tf.tidy(() => this.runHead(features));
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
