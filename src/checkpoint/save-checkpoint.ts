/**
 * Serialises a model's weights in PyTorch layout under the official key names:
 * - safetensors (rla-net's own format) with `__metadata__` naming the registry model and its options, so the
 *   model can be rebuilt from the file alone; tied keys are written out under every name.
 * - `.pth` (zip, pickle protocol 2) that `torch.load` opens and the official code loads with
 *   `load_state_dict(strict=True)`; tied keys share one storage, as in PyTorch.
 */
import type { ClassifierModel } from '../models/classifier.js';
import type { ModelOptions } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import { toTorchLayout } from '../nn/tensor-layout.js';
import { type PthTensorInput, writeTorchCheckpoint } from '../weights/pth-writer.js';
import { writeSafetensors } from '../weights/safetensors.js';

/** Metadata key values that identify an rla-net safetensors file. */
export const RLA_FORMAT = 'rla-net';
export const RLA_FORMAT_VERSION = '1';

export interface TorchLayoutTensor {
  dtype: 'float32' | 'int64';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** Every state entry in PyTorch layout and dtype (int buffers become int64 like PyTorch's). */
export function torchStateDict(model: Module): Array<[string, TorchLayoutTensor]> {
  return model.stateEntries().map(({ key, tensor, layout }) => {
    if (tensor.dtype === 'int32') {
      const values = tensor.dataSync();
      return [
        key,
        { dtype: 'int64', shape: tensor.shape, data: BigInt64Array.from(values, (v) => BigInt(v)) },
      ];
    }
    const torchTensor = toTorchLayout(tensor, layout);
    const data = torchTensor.dataSync() as Float32Array;
    const shape = torchTensor.shape;
    torchTensor.dispose();
    return [key, { dtype: 'float32', shape, data }];
  });
}

/** Model identity stored with the weights. */
export interface ModelIdentity {
  name: string;
  options: ModelOptions;
}

/** Registry name and options of a model built with `createModel`. */
export function identityOf(model: ClassifierModel): ModelIdentity | null {
  if (!model.registryName) return null;
  const { seed: _seed, ...options } = model.registryOptions ?? {};
  return { name: model.registryName, options };
}

/** rla-net safetensors bytes: PyTorch layout, official keys, model identity in `__metadata__`. */
export function toSafetensorsBytes(
  model: Module,
  identity: ModelIdentity | null,
  extra: Record<string, string> = {},
): Uint8Array {
  const entries = torchStateDict(model).map(
    ([key, t]) =>
      [key, { dtype: t.dtype === 'int64' ? 'I64' : 'F32', shape: t.shape, data: t.data }] as const,
  );
  const metadata: Record<string, string> = {
    format: RLA_FORMAT,
    format_version: RLA_FORMAT_VERSION,
    ...extra,
  };
  if (identity) {
    metadata.model = identity.name;
    metadata.options = JSON.stringify(identity.options);
  }
  return writeSafetensors(entries, metadata);
}

/** `.pth` bytes that `torch.load` reads as an OrderedDict state_dict; tied keys share one storage. */
export function toPthBytes(model: Module, archiveName = 'archive'): Uint8Array {
  const entries = torchStateDict(model).map(
    ([key, t]) => [key, t as PthTensorInput] as [string, PthTensorInput],
  );
  const byOwner = new Map<unknown, string[]>();
  for (const entry of model.stateEntries())
    byOwner.set(entry.owner, [...(byOwner.get(entry.owner) ?? []), entry.key]);
  const sharedGroups = [...byOwner.values()].filter((keys) => keys.length > 1);
  return writeTorchCheckpoint(entries, { archiveName, sharedGroups });
}
