/**
 * Reader for files written by `torch.save`, without executing the pickle inside them.
 *
 * Two container formats exist:
 * - zip (PyTorch >= 1.6, the default): `<folder>/data.pkl` holds the object pickle, each storage is
 *   a record `<folder>/data/<key>`; the folder name varies (it is derived from the file name), so it
 *   is found, never assumed.
 * - legacy (`_use_new_zipfile_serialization=False` and PyTorch < 1.6): a stream of pickles (magic
 *   number, protocol version, sys_info, the object, the list of storage keys) followed, per key,
 *   by an int64 element count and the raw bytes.
 *
 * Decoded objects are plain JS values (see pickle.ts): dicts and OrderedDicts become `Map`s in
 * insertion order, lists and tuples arrays, tensors {@link TorchTensor}s whose storages are read
 * lazily.
 */

import { describeValue } from '../util/bounded-text.js';
import { DTYPE_ITEMSIZE, type TorchDtype } from './dtypes.js';
import { CheckpointError, WeightsFormatError } from './errors.js';
import { PickleGlobal, type PickleGlobalImpl, SAFE_GLOBALS, unpickle } from './pickle.js';
import { TorchStorage, TorchTensor } from './torch-tensor.js';
import { isZip, readZip, type ZipArchive } from './zip.js';

/**
 * A decoded checkpoint value: `Map` (dict), array (list/tuple), {@link TorchTensor}, string,
 * number, bigint, boolean, null, `Uint8Array` (bytes), `Set`, or a {@link PickleGlobal} reference
 * for names that are allowlisted as plain tokens (e.g. `torch.float16`).
 */
export type TorchObject = unknown;

/** Options of {@link readTorchCheckpoint}. */
export interface ReadTorchCheckpointOptions {
  /** Used in error messages so they say which file is at fault. */
  readonly fileName?: string;
  /** Called once per storage when its bytes are first read (lazy loading instrumentation). */
  readonly onStorageLoad?: (storage: TorchStorage) => void;
  /** Check ZIP CRCs of records as they are read (default true). */
  readonly verifyCrc?: boolean;
  /**
   * Most bytes inflated from deflated records of a zip checkpoint (default: 64 MiB + 8x the file
   * size, see `defaultInflateBudget`); raise it for a legitimately huge, highly compressible file.
   */
  readonly maxInflatedBytes?: number;
}

/** Storage class name (as pickled, e.g. `torch.FloatStorage`) -> element type. */
const STORAGE_DTYPES: ReadonlyMap<string, TorchDtype> = new Map([
  ['torch.FloatStorage', 'float32'],
  ['torch.DoubleStorage', 'float64'],
  ['torch.HalfStorage', 'float16'],
  ['torch.BFloat16Storage', 'bfloat16'],
  ['torch.LongStorage', 'int64'],
  ['torch.IntStorage', 'int32'],
  ['torch.ShortStorage', 'int16'],
  ['torch.CharStorage', 'int8'],
  ['torch.ByteStorage', 'uint8'],
  ['torch.BoolStorage', 'bool'],
  // Untyped storages (torch >= 2.0 when an untyped storage itself is saved) are raw bytes.
  ['torch.UntypedStorage', 'uint8'],
]);

const DTYPE_NAMES = [
  'float32',
  'float64',
  'float16',
  'bfloat16',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
  'bool',
];
const DTYPE_ALIASES = ['float', 'double', 'half', 'long', 'int', 'short'];

/** Reads an int argument, with the path in the message. */
function intArg(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    throw new CheckpointError(`${what} is not an integer: ${describeValue(v)}`);
  return v;
}

function intTuple(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new CheckpointError(`${what} is not a tuple`);
  return v.map((x, i) => intArg(x, `${what}[${i}]`));
}

/** `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])`. */
function rebuildTensor(args: readonly unknown[]): TorchTensor {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof TorchStorage))
    throw new CheckpointError('_rebuild_tensor: first argument is not a storage');
  return new TorchTensor(
    storage,
    intArg(offset, `tensor on storage ${storage.key}: storage offset`),
    intTuple(size, `tensor on storage ${storage.key}: size`),
    intTuple(stride, `tensor on storage ${storage.key}: stride`),
    requiresGrad === true,
  );
}

/** `_rebuild_parameter(data, requires_grad, backward_hooks[, state])`: a Parameter is its tensor. */
function rebuildParameter(args: readonly unknown[]): TorchTensor {
  const [data, requiresGrad] = args;
  if (!(data instanceof TorchTensor)) throw new CheckpointError('_rebuild_parameter: data is not a tensor');
  return new TorchTensor(data.storage, data.storageOffset, data.shape, data.stride, requiresGrad === true);
}

/** `_rebuild_from_type_v2(func, new_type, args, state)`: only allowlisted rebuild functions run. */
function rebuildFromType(args: readonly unknown[]): unknown {
  const [func, , fargs] = args;
  if (!(func instanceof PickleGlobal) || !func.impl.call || !Array.isArray(fargs)) {
    throw new CheckpointError('_rebuild_from_type_v2: malformed arguments');
  }
  return func.impl.call(fargs);
}

/** `torch.device(type[, index])` as torch prints it (`cuda:0`); only a str and an int are accepted. */
function deviceName(args: readonly unknown[]): string {
  const parts = args.filter((x) => x !== null && x !== undefined);
  if (parts.some((x) => typeof x !== 'string' && typeof x !== 'number'))
    throw new CheckpointError(`torch.device(): arguments ${describeValue(args)} are not a str and an int`);
  return parts.join(':');
}

/** Names that may appear as values but must never be called. */
const TOKEN: PickleGlobalImpl = {};

/**
 * The allowlist for checkpoints: {@link SAFE_GLOBALS} plus the tensor-rebuild functions, storage
 * classes, dtypes and a few harmless torch names. Implementations only construct data.
 */
export const TORCH_GLOBALS: ReadonlyMap<string, PickleGlobalImpl> = (() => {
  const m = new Map<string, PickleGlobalImpl>(SAFE_GLOBALS);
  m.set('torch._utils._rebuild_tensor_v2', { call: rebuildTensor });
  m.set('torch._utils._rebuild_tensor', { call: rebuildTensor });
  m.set('torch._utils._rebuild_parameter', { call: rebuildParameter });
  m.set('torch._utils._rebuild_parameter_with_state', { call: rebuildParameter });
  m.set('torch._tensor._rebuild_from_type_v2', { call: rebuildFromType });
  m.set('torch.Size', {
    call: (a) => {
      if (!Array.isArray(a[0])) throw new CheckpointError('torch.Size(): argument is not a tuple');
      return a[0].map((x: unknown, i: number) => intArg(x, `torch.Size[${i}]`));
    },
  });
  m.set('torch.device', { call: deviceName });
  m.set('torch.Tensor', TOKEN);
  m.set('torch.nn.parameter.Parameter', TOKEN);
  for (const name of STORAGE_DTYPES.keys()) m.set(name, TOKEN);
  for (const name of [...DTYPE_NAMES, ...DTYPE_ALIASES]) m.set(`torch.${name}`, TOKEN);
  return m;
})();

function prefixError(e: unknown, context: string): never {
  if (e instanceof WeightsFormatError && context && !e.message.startsWith(context))
    e.message = context + e.message;
  throw e;
}

/**
 * Parses a `torch.save` file (zip or legacy format) held in memory. Tensor data is not decoded:
 * each storage is read on first use. Throws {@link CheckpointError}, {@link ZipError},
 * {@link PickleError} or {@link UnsafePickleError} (all {@link WeightsFormatError}s), with the
 * file name (when given) at the start of the message.
 */
export function readTorchCheckpoint(
  bytes: Uint8Array,
  options: ReadTorchCheckpointOptions = {},
): TorchObject {
  const context = options.fileName ? `${options.fileName}: ` : '';
  try {
    if (isZip(bytes)) return readZipCheckpoint(bytes, options, context);
    if (bytes.length > 0 && bytes[0] === 0x80) return readLegacyCheckpoint(bytes, options, context);
    if (bytes.length >= 262 && String.fromCharCode(...bytes.subarray(257, 262)) === 'ustar') {
      throw new CheckpointError('tar-format checkpoints (PyTorch < 0.4) are not supported');
    }
    throw new CheckpointError('not a PyTorch checkpoint: neither a zip archive nor a pickle stream');
  } catch (e) {
    prefixError(e, context);
  }
}

/** Checks a persistent-id field and names the storage key in the message. */
function pidCheck(cond: boolean, what: string): void {
  if (!cond) throw new CheckpointError(`malformed storage persistent id: ${what}`);
}

function storageDtype(type: unknown): TorchDtype {
  const name = type instanceof PickleGlobal ? type.qualifiedName : describeValue(type);
  const dtype = STORAGE_DTYPES.get(name);
  if (!dtype) throw new CheckpointError(`unsupported storage type ${name}`);
  return dtype;
}

/** The checked fields of a `('storage', type, key, location, numel, ...)` persistent id (both file formats). */
function storageFields(
  type: unknown,
  key: unknown,
  location: unknown,
  numel: unknown,
): { key: string; dtype: TorchDtype; location: string; numel: number } {
  pidCheck(typeof key === 'string', 'key is not a string');
  const k = key as string;
  const dtype = storageDtype(type);
  pidCheck(typeof location === 'string', `location of storage ${k} is not a string`);
  const n = intArg(numel, `element count of storage ${k}`);
  pidCheck(n >= 0, `storage ${k} has a negative element count`);
  return { key: k, dtype, location: location as string, numel: n };
}

function readZipCheckpoint(
  bytes: Uint8Array,
  options: ReadTorchCheckpointOptions,
  context: string,
): TorchObject {
  const zip = readZip(bytes, { maxInflatedBytes: options.maxInflatedBytes });
  const verifyCrc = options.verifyCrc ?? true;
  const pkl = findDataPkl(zip);
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  const byteorder = zip.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(zip.read(byteorder, { verifyCrc })).trim();
    if (order !== 'little')
      throw new CheckpointError(`byte order "${order}" is not supported (only little-endian)`);
  }
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: unknown): TorchStorage => {
    pidCheck(Array.isArray(pid) && pid.length >= 5, 'expected a 5-tuple');
    const [kind, type, key, location, numel] = pid as unknown[];
    pidCheck(kind === 'storage', `kind ${describeValue(kind)} is not 'storage'`);
    const { key: k, dtype, numel: n } = storageFields(type, key, location, numel);
    const seen = storages.get(k);
    if (seen) {
      if (seen.dtype !== dtype || seen.numel !== n) {
        throw new CheckpointError(
          `storage ${k} is referenced as both ${seen.dtype}[${seen.numel}] and ${dtype}[${n}]`,
        );
      }
      return seen;
    }
    const entryName = `${prefix}data/${k}`;
    const entry = zip.get(entryName);
    if (!entry) throw new CheckpointError(`storage ${k}: record ${entryName} is missing from the archive`);
    const itemsize = DTYPE_ITEMSIZE[dtype];
    const need = n * itemsize;
    // Checked up front from the directory (cheap) so a truncated storage fails at parse time.
    if (entry.uncompressedSize < need) {
      throw new CheckpointError(
        `storage ${k} is truncated: ${n} x ${dtype} needs ${need} bytes, record ${entryName} has ${entry.uncompressedSize}`,
      );
    }
    // torch.save writes a storage's bytes exactly (a typed view may leave less than one element of
    // its untyped storage over). A larger record would be inflated for nothing: a bomb's padding.
    if (entry.uncompressedSize >= need + itemsize) {
      throw new CheckpointError(
        `storage ${k}: record ${entryName} declares ${entry.uncompressedSize} bytes, but ${n} x ${dtype} needs only ${need}`,
      );
    }
    const storage = new TorchStorage(
      k,
      dtype,
      n,
      location as string,
      () => zip.read(entry, { verifyCrc }),
      context,
      options.onStorageLoad,
    );
    storages.set(k, storage);
    return storage;
  };
  const data = zip.read(pkl, { verifyCrc });
  return unpickle(data, { globals: TORCH_GLOBALS, persistentLoad }).value;
}

/** The `data.pkl` record: `<folder>/data.pkl` for any folder name (shallowest if several). */
function findDataPkl(zip: ZipArchive) {
  const candidates = zip.entries.filter((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
  if (candidates.length === 0)
    throw new CheckpointError('zip archive has no data.pkl record: not a torch.save file');
  const depth = (n: string) => n.split('/').length;
  candidates.sort((a, b) => depth(a.name) - depth(b.name));
  if (candidates.length > 1 && depth(candidates[0].name) === depth(candidates[1].name)) {
    throw new CheckpointError(
      `zip archive has several data.pkl records (${candidates[0].name}, ${candidates[1].name})`,
    );
  }
  return candidates[0];
}

// torch/serialization.py MAGIC_NUMBER and PROTOCOL_VERSION of the legacy format.
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

interface LegacyRoot {
  readonly key: string;
  readonly dtype: TorchDtype;
  readonly numel: number;
  location: string;
  storage?: TorchStorage;
}

function readLegacyCheckpoint(
  bytes: Uint8Array,
  options: ReadTorchCheckpointOptions,
  context: string,
): TorchObject {
  const magic = unpickle(bytes, { start: 0 });
  if (magic.value !== LEGACY_MAGIC)
    throw new CheckpointError('bad magic number: not a legacy torch.save stream');
  const proto = unpickle(bytes, { start: magic.end });
  if (proto.value !== LEGACY_PROTOCOL)
    throw new CheckpointError(`unsupported legacy protocol version ${describeValue(proto.value)}`);
  const sysInfo = unpickle(bytes, { start: proto.end });
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new CheckpointError('big-endian legacy checkpoints are not supported');
  }

  // Storage bytes live after the pickles, so storages are created now and their location in the
  // file filled in once the key list has been read.
  const roots = new Map<string, LegacyRoot>();
  const offsets = new Map<string, number>();
  const views = new Map<string, TorchStorage>();
  const rootStorage = (root: LegacyRoot): TorchStorage => {
    root.storage ??= new TorchStorage(
      root.key,
      root.dtype,
      root.numel,
      root.location,
      () => {
        const at = offsets.get(root.key);
        if (at === undefined)
          throw new CheckpointError(`storage ${root.key} is not in the checkpoint's storage list`);
        return bytes.subarray(at, at + root.numel * DTYPE_ITEMSIZE[root.dtype]);
      },
      context,
      options.onStorageLoad,
    );
    return root.storage;
  };
  const persistentLoad = (pid: unknown): TorchStorage => {
    pidCheck(Array.isArray(pid) && pid.length >= 1, 'expected a tuple');
    const t = pid as unknown[];
    if (t[0] === 'module')
      throw new CheckpointError('checkpoint pickles a whole nn.Module (source code); not supported');
    pidCheck(t[0] === 'storage' && t.length >= 5, "expected ('storage', type, key, location, size, view)");
    const [, type, key, location, numel, view] = t;
    const fields = storageFields(type, key, location, numel);
    const { key: k, dtype, numel: n } = fields;
    let root = roots.get(k);
    if (!root) {
      root = fields;
      roots.set(k, root);
    } else if (root.dtype !== dtype) {
      throw new CheckpointError(`storage ${k} is referenced as both ${root.dtype} and ${dtype}`);
    }
    const base = rootStorage(root);
    if (view === null || view === undefined) return base;
    // Old files: (view_key, offset, view_size), a view of a slice of the root storage.
    pidCheck(Array.isArray(view) && view.length === 3, `view metadata of storage ${k}`);
    const [viewKey, off, size] = view as unknown[];
    pidCheck(typeof viewKey === 'string', `view key of storage ${k} is not a string`);
    const vk = viewKey as string;
    const cached = views.get(vk);
    if (cached) return cached;
    const o = intArg(off, `view offset of storage ${k}`);
    const s = intArg(size, `view size of storage ${k}`);
    if (o < 0 || s < 0 || o + s > n)
      throw new CheckpointError(
        `storage view ${vk} [${o}, ${o + s}) is outside storage ${k} of ${n} elements`,
      );
    const itemsize = DTYPE_ITEMSIZE[dtype];
    const v = new TorchStorage(
      vk,
      dtype,
      s,
      base.location,
      () => base.bytes().subarray(o * itemsize, (o + s) * itemsize),
      context,
      undefined,
      base,
    );
    views.set(vk, v);
    return v;
  };
  const main = unpickle(bytes, { start: sysInfo.end, globals: TORCH_GLOBALS, persistentLoad });
  const keyList = unpickle(bytes, { start: main.end });
  if (!Array.isArray(keyList.value)) throw new CheckpointError('legacy storage key list is not a list');

  // Walk the storage records (int64 count + raw bytes each) to learn where each one's data is.
  let pos = keyList.end;
  for (const key of keyList.value) {
    if (typeof key !== 'string')
      throw new CheckpointError(`legacy storage key list holds ${describeValue(key)}, not a key string`);
    const k = key;
    const root = roots.get(k);
    if (!root)
      throw new CheckpointError(`storage ${k} is listed but no tensor references it (element size unknown)`);
    if (pos + 8 > bytes.length)
      throw new CheckpointError(`storage ${k} is truncated: element count missing at byte ${pos}`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + pos, 8);
    const count = dv.getBigInt64(0, true);
    if (count !== BigInt(root.numel)) {
      throw new CheckpointError(`storage ${k}: file says ${count} elements, pickle says ${root.numel}`);
    }
    const size = root.numel * DTYPE_ITEMSIZE[root.dtype];
    if (pos + 8 + size > bytes.length) {
      throw new CheckpointError(
        `storage ${k} is truncated: needs ${size} bytes at ${pos + 8}, file has ${bytes.length - pos - 8}`,
      );
    }
    offsets.set(k, pos + 8);
    pos += 8 + size;
  }
  for (const k of roots.keys()) {
    if (!offsets.has(k))
      throw new CheckpointError(`storage ${k} is referenced but missing from the storage list`);
  }
  return main.value;
}
