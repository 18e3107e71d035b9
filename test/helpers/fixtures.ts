/** Loading the official parity fixtures (safetensors of NCHW activations, .pth weights). */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelOptions } from '../../src/models/registry.js';
import { readSafetensors, safetensorToFloat32Array } from '../../src/weights/safetensors.js';
import { fixturePath } from './paths.js';

/** The two ResNet fixtures of set A and the createModel call that builds their architecture. */
export const RESNET_FIXTURES: Array<{ fixture: string; model: string; options: ModelOptions }> = [
  {
    fixture: 'rla_resnet_1111_w16',
    model: 'rla_resnet50',
    options: { layers: [1, 1, 1, 1], widthPerGroup: 16, numClasses: 10 },
  },
  {
    fixture: 'rla_resnet_2111_eca3355_w8',
    model: 'rla_resnet50_eca',
    options: { layers: [2, 1, 1, 1], widthPerGroup: 8, numClasses: 10, ecaKernelSizes: [3, 3, 5, 5] },
  },
];

export function officialBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath('rla-official', file)));
}

export interface FixtureTensor {
  shape: number[];
  data: Float32Array;
}

/** All tensors of a fixture safetensors file as float32 (int64 labels converted). */
export function readFixtureTensors(file: string): Map<string, FixtureTensor> {
  const parsed = readSafetensors(officialBytes(file));
  return new Map(
    [...parsed.tensors].map(
      ([name, t]) => [name, { shape: [...t.shape], data: safetensorToFloat32Array(t) }] as const,
    ),
  );
}

/** NCHW fixture input as an NHWC tensor. */
export function nhwcInput(input: FixtureTensor): tf.Tensor4D {
  return tf.tidy(() =>
    tf.transpose(tf.tensor4d(input.data, input.shape as [number, number, number, number]), [0, 2, 3, 1]),
  );
}

/** A model output (NHWC or flat) in the fixtures' NCHW layout. */
export function toNchwData(tensor: tf.Tensor): Float32Array {
  return tf.tidy(
    () => (tensor.rank === 4 ? tf.transpose(tensor, [0, 3, 1, 2]) : tensor).dataSync() as Float32Array,
  );
}
