/**
 * Reads any supported weights file into a flat `key -> SourceTensor` state dict with official key names,
 * normalised like timm's `clean_state_dict`: trainer dicts are unwrapped (`state_dict` / `model`, or
 * `state_dict_ema` when asked), and `module.` (DataParallel/DDP) and `_orig_mod.` (torch.compile) prefixes
 * are stripped. Nothing in the file is executed (see src/weights/pickle.ts).
 */
import { describeValue, truncateText } from '../util/bounded-text.js';
import { CheckpointError } from '../weights/errors.js';
import { readSafetensors } from '../weights/safetensors.js';
import { readTorchCheckpoint } from '../weights/torch-checkpoint.js';
import { TorchTensor } from '../weights/torch-tensor.js';
import { fromSafetensor, fromTorchTensor, type SourceTensor } from './source-tensor.js';

export type WeightsFormat = 'safetensors' | 'pytorch-zip' | 'pytorch-legacy';

export interface StateDictSource {
  format: WeightsFormat;
  tensors: Map<string, SourceTensor>;
  /** Which part of a trainer checkpoint held the weights (`state_dict`, `model`, ...), or null for a plain dict. */
  unwrappedFrom: string | null;
  /** Scalar facts found beside the weights: `arch`, `epoch`, `best_acc1`; safetensors `__metadata__`. */
  info: Record<string, string | number>;
}

export interface ReadStateDictOptions {
  /** Name used in error messages. */
  fileName?: string;
  /** Prefer EMA weights (`state_dict_ema` / `model_ema`) when the checkpoint has them. */
  useEma?: boolean;
  /** Cap on bytes inflated from a zip checkpoint's deflated records (see `ReadTorchCheckpointOptions`). */
  maxInflatedBytes?: number;
}

const PREFIXES = ['module.', '_orig_mod.'];

/** Detects the file format from its first bytes. */
export function detectFormat(bytes: Uint8Array): WeightsFormat {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b) return 'pytorch-zip';
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) return 'pytorch-legacy';
  if (bytes.length >= 9 && bytes[8] === 0x7b /* '{' */) return 'safetensors';
  throw new CheckpointError('not a PyTorch checkpoint (zip or legacy pickle) nor a safetensors file');
}

function stripPrefixes(key: string): string {
  let stripped = key;
  for (let changed = true; changed; ) {
    changed = false;
    for (const prefix of PREFIXES) {
      if (stripped.startsWith(prefix)) {
        stripped = stripped.slice(prefix.length);
        changed = true;
      }
    }
  }
  return stripped;
}

function scalarInfo(value: unknown): string | number | null {
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof TorchTensor && value.numel === 1) return value.toFloat32Array()[0];
  return null;
}

/** Picks the weights dict out of a trainer checkpoint (or returns the object itself when it is the state dict). */
function unwrap(
  root: Map<unknown, unknown>,
  useEma: boolean,
): { dict: Map<unknown, unknown>; from: string | null } {
  const order = useEma ? ['state_dict_ema', 'model_ema', 'state_dict', 'model'] : ['state_dict', 'model'];
  for (const key of order) {
    const candidate = root.get(key);
    if (candidate instanceof Map) return { dict: candidate, from: key };
  }
  return { dict: root, from: null };
}

/** Parses weights-file bytes into a normalised state dict. */
export function readStateDict(bytes: Uint8Array, options: ReadStateDictOptions = {}): StateDictSource {
  const context = options.fileName ? `${options.fileName}: ` : '';
  let format: WeightsFormat;
  try {
    format = detectFormat(bytes);
  } catch (error) {
    throw new CheckpointError(`${context}${(error as Error).message}`);
  }
  const tensors = new Map<string, SourceTensor>();
  const info: Record<string, string | number> = {};
  const add = (rawKey: string, tensor: SourceTensor) => {
    const key = stripPrefixes(rawKey);
    if (tensors.has(key))
      throw new CheckpointError(`${context}key ${truncateText(key)} appears twice after removing prefixes`);
    tensors.set(key, tensor);
  };
  if (format === 'safetensors') {
    const file = readSafetensors(bytes, options.fileName);
    for (const [key, tensor] of file.tensors) add(key, fromSafetensor(tensor));
    Object.assign(info, file.metadata);
    return { format, tensors, unwrappedFrom: null, info };
  }
  const root = readTorchCheckpoint(bytes, {
    fileName: options.fileName,
    maxInflatedBytes: options.maxInflatedBytes,
  });
  if (!(root instanceof Map)) {
    throw new CheckpointError(
      `${context}expected a dict of tensors (a state_dict or a trainer checkpoint), found ${typeof root}`,
    );
  }
  const { dict, from } = unwrap(root, options.useEma ?? false);
  if (from !== null) {
    for (const [key, value] of root) {
      const scalar = scalarInfo(value);
      if (typeof key === 'string' && scalar !== null) info[key] = scalar;
    }
  }
  for (const [key, value] of dict) {
    if (typeof key !== 'string')
      throw new CheckpointError(`${context}state_dict has a non-string key: ${describeValue(key)}`);
    if (!(value instanceof TorchTensor)) {
      throw new CheckpointError(
        `${context}state_dict entry ${truncateText(key)} is not a tensor (${describeValue(value)})`,
      );
    }
    add(key, fromTorchTensor(value));
  }
  return { format, tensors, unwrappedFrom: from, info };
}
