/**
 * A pickle virtual machine that never executes anything.
 *
 * Python's unpickler imports and calls whatever a pickle names, which is why loading an untrusted
 * `.pth` with `torch.load(weights_only=False)` can run arbitrary code. This VM instead resolves
 * GLOBAL / STACK_GLOBAL against an explicit allowlist of *TypeScript* implementations; any other
 * name stops decoding with an {@link UnsafePickleError} at the opcode that named it, before any
 * REDUCE could use it. Nothing from the pickle is ever evaluated or imported.
 *
 * Python values map to JS as follows:
 * - None -> `null`; bool -> `boolean`; float -> `number`;
 * - int -> `number` when it is a safe integer, otherwise `bigint` (never silently rounded);
 * - str -> `string`; bytes / bytearray -> `Uint8Array` (a copy);
 * - list and tuple -> arrays (tuples are frozen arrays, so they can be told apart);
 * - dict and OrderedDict -> `Map` (insertion order kept, keys of any type);
 * - set / frozenset -> `Set`;
 * - allowlisted globals -> whatever their TypeScript implementation returns.
 *
 * Everything is bounded: every opcode consumes at least one byte, lengths are checked against the
 * input before reading, and the stack, mark depth and integer sizes have hard limits, so malformed
 * input ends in a {@link PickleError} carrying the byte offset.
 */

import { describeValue, truncateText } from '../util/bounded-text.js';
import { PickleError, UnsafePickleError, WeightsFormatError } from './errors.js';

/** TypeScript implementation of one allowlisted Python global. */
export interface PickleGlobalImpl {
  /** Called by REDUCE with the positional-argument tuple. Absent: the global cannot be called. */
  readonly call?: (args: readonly unknown[]) => unknown;
  /** Called by NEWOBJ / NEWOBJ_EX (`cls.__new__(cls, *args)`). Absent: cannot be instantiated. */
  readonly newobj?: (args: readonly unknown[], kwargs: ReadonlyMap<unknown, unknown>) => unknown;
}

/** The value a GLOBAL opcode pushes: a reference to an allowlisted name and its implementation. */
export class PickleGlobal {
  /**
   * @param module Python module, e.g. `torch`.
   * @param name attribute name, e.g. `FloatStorage`.
   * @param impl the TypeScript behaviour for calls / instantiation.
   */
  constructor(
    readonly module: string,
    readonly name: string,
    readonly impl: PickleGlobalImpl,
  ) {}
  /** `module.name`, the form used in the allowlist and in error messages. */
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * Objects that accept pickle BUILD state (Python's `__setstate__`) implement this symbol.
 * Objects without it keep the state aside, retrievable with {@link pickleBuildState}.
 */
export const PICKLE_SETSTATE: unique symbol = Symbol('pickle.setstate');

/** An object that handles BUILD itself. */
export interface PickleSettable {
  [PICKLE_SETSTATE](state: unknown): void;
}

// BUILD state of objects that do not interpret it (e.g. an OrderedDict's `_metadata` attribute).
const buildStates = new WeakMap<object, unknown>();

/**
 * The BUILD state pickled for `obj`, if any, for objects that do not interpret it themselves.
 * Example: a PyTorch `state_dict` OrderedDict carries `{'_metadata': ...}` here.
 */
export function pickleBuildState(obj: object): unknown {
  return buildStates.get(obj);
}

/** `argparse.Namespace` decodes to this Map of attribute name -> value. */
export class PickleNamespace extends Map<unknown, unknown> implements PickleSettable {
  /** BUILD merges the pickled `__dict__` into the map. */
  [PICKLE_SETSTATE](state: unknown): void {
    if (!(state instanceof Map)) throw new WeightsFormatError('argparse.Namespace state is not a dict');
    for (const [k, v] of state) this.set(k, v);
  }
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /**
   * The allowlist: `module.name` -> implementation. Defaults to {@link SAFE_GLOBALS} (generic,
   * harmless builtins only). Callers extend it with their own implementations.
   */
  readonly globals?: ReadonlyMap<string, PickleGlobalImpl>;
  /** Handles BINPERSID / PERSID; without it, a persistent id is an error. */
  readonly persistentLoad?: (pid: unknown) => unknown;
  /** Byte offset where the pickle starts (legacy checkpoints hold several pickles back to back). */
  readonly start?: number;
  /** Maximum number of values on the stack (all mark levels together). Default 10,000,000. */
  readonly maxStack?: number;
  /** Maximum MARK nesting. Default 10,000. */
  readonly maxMarkDepth?: number;
}

/** Result of {@link unpickle}: the value and the offset just past the STOP opcode. */
export interface UnpickleResult {
  readonly value: unknown;
  readonly end: number;
}

const MAX_LONG_BYTES = 4096;

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/** Decodes `_codecs.encode(text, encoding)`: protocol 2 pickles Python 3 `bytes` this way. */
function codecsEncode(args: readonly unknown[]): Uint8Array {
  const [text, encoding] = args;
  if (typeof text !== 'string') throw new WeightsFormatError('_codecs.encode: first argument is not a str');
  if (encoding !== undefined && typeof encoding !== 'string')
    throw new WeightsFormatError(`_codecs.encode: encoding ${describeValue(encoding)} is not a str`);
  const enc = typeof encoding === 'string' ? encoding.toLowerCase().replace('_', '-') : 'utf-8';
  if (enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1') {
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0xff) throw new WeightsFormatError('_codecs.encode: character outside latin-1');
      out[i] = c;
    }
    return out;
  }
  if (enc === 'utf-8' || enc === 'utf8') return new TextEncoder().encode(text);
  throw new WeightsFormatError(
    `_codecs.encode: unsupported encoding ${truncateText(encoding as string, 40)}`,
  );
}

/** A numpy dtype as far as needed to decode numpy scalars (`numpy.dtype('f8')` + BUILD state). */
export class NumpyDtype implements PickleSettable {
  /** Byte order from the BUILD state: '<', '>', '|' or '=' (native, treated as little-endian). */
  byteOrder = '=';
  /** @param code numpy type code such as `f8`, `i4`, `b1`. */
  constructor(readonly code: string) {}
  /** numpy pickles `(version, byteorder, ...)`; only the byte order matters here. */
  [PICKLE_SETSTATE](state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteOrder = state[1];
  }
}

/** `numpy.core.multiarray.scalar(dtype, bytes)`: a numpy scalar decoded as a JS number / bigint / boolean. */
function numpyScalar(args: readonly unknown[]): number | bigint | boolean {
  const [dtype, raw] = args;
  if (!(dtype instanceof NumpyDtype))
    throw new WeightsFormatError('numpy scalar: first argument is not a numpy.dtype');
  if (!(raw instanceof Uint8Array)) throw new WeightsFormatError('numpy scalar: data is not bytes');
  const little = dtype.byteOrder !== '>';
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const need = (n: number): void => {
    if (raw.length !== n)
      throw new WeightsFormatError(`numpy scalar ${dtype.code}: expected ${n} bytes, got ${raw.length}`);
  };
  switch (dtype.code) {
    case 'f8':
      need(8);
      return dv.getFloat64(0, little);
    case 'f4':
      need(4);
      return dv.getFloat32(0, little);
    case 'i8': {
      need(8);
      const v = dv.getBigInt64(0, little);
      return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v;
    }
    case 'u8': {
      need(8);
      const v = dv.getBigUint64(0, little);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case 'i4':
      need(4);
      return dv.getInt32(0, little);
    case 'u4':
      need(4);
      return dv.getUint32(0, little);
    case 'i2':
      need(2);
      return dv.getInt16(0, little);
    case 'u2':
      need(2);
      return dv.getUint16(0, little);
    case 'i1':
      need(1);
      return dv.getInt8(0);
    case 'u1':
      need(1);
      return dv.getUint8(0);
    case 'b1':
      need(1);
      return raw[0] !== 0;
    default:
      throw new WeightsFormatError(`numpy scalar: unsupported dtype ${dtype.code}`);
  }
}

function numpyDtype(args: readonly unknown[]): NumpyDtype {
  if (typeof args[0] !== 'string') throw new WeightsFormatError('numpy.dtype: type code is not a str');
  return new NumpyDtype(args[0]);
}

function toSet(args: readonly unknown[]): Set<unknown> {
  const items = args[0];
  if (items === undefined) return new Set();
  if (Array.isArray(items) || items instanceof Set) return new Set(items);
  throw new WeightsFormatError('set(): argument is not a list');
}

function orderedDict(args: readonly unknown[]): Map<unknown, unknown> {
  const m = new Map<unknown, unknown>();
  const items = args[0];
  if (items === undefined) return m;
  if (items instanceof Map) return new Map(items);
  if (!Array.isArray(items)) throw new WeightsFormatError('OrderedDict(): argument is not a list of pairs');
  for (const pair of items) {
    if (!Array.isArray(pair) || pair.length !== 2)
      throw new WeightsFormatError('OrderedDict(): item is not a pair');
    m.set(pair[0], pair[1]);
  }
  return m;
}

/**
 * Generic globals that are safe to "call" because our implementations only build plain data:
 * OrderedDict, set/frozenset, `_codecs.encode` (bytes under protocol 2), argparse.Namespace and
 * numpy scalars (trainers pickle e.g. `best_acc1` as one). PyTorch-specific names are added by
 * the checkpoint reader.
 */
export const SAFE_GLOBALS: ReadonlyMap<string, PickleGlobalImpl> = new Map<string, PickleGlobalImpl>([
  ['collections.OrderedDict', { call: orderedDict, newobj: () => new Map() }],
  ['builtins.set', { call: toSet }],
  ['builtins.frozenset', { call: toSet }],
  ['__builtin__.set', { call: toSet }],
  ['_codecs.encode', { call: codecsEncode }],
  ['argparse.Namespace', { newobj: () => new PickleNamespace(), call: () => new PickleNamespace() }],
  ['numpy.core.multiarray.scalar', { call: numpyScalar }],
  ['numpy._core.multiarray.scalar', { call: numpyScalar }],
  ['numpy.dtype', { call: numpyDtype }],
]);

// Opcode bytes (see CPython Lib/pickle.py).
enum Op {
  MARK = 0x28, // (
  STOP = 0x2e, // .
  POP = 0x30, // 0
  POP_MARK = 0x31, // 1
  DUP = 0x32, // 2
  FLOAT = 0x46, // F
  INT = 0x49, // I
  BININT = 0x4a, // J
  BININT1 = 0x4b, // K
  LONG = 0x4c, // L
  BININT2 = 0x4d, // M
  NONE = 0x4e, // N
  PERSID = 0x50, // P
  BINPERSID = 0x51, // Q
  REDUCE = 0x52, // R
  STRING = 0x53, // S
  BINSTRING = 0x54, // T
  SHORT_BINSTRING = 0x55, // U
  UNICODE = 0x56, // V
  BINUNICODE = 0x58, // X
  APPEND = 0x61, // a
  BUILD = 0x62, // b
  GLOBAL = 0x63, // c
  DICT = 0x64, // d
  EMPTY_DICT = 0x7d, // }
  APPENDS = 0x65, // e
  GET = 0x67, // g
  BINGET = 0x68, // h
  INST = 0x69, // i
  LONG_BINGET = 0x6a, // j
  LIST = 0x6c, // l
  EMPTY_LIST = 0x5d, // ]
  OBJ = 0x6f, // o
  PUT = 0x70, // p
  BINPUT = 0x71, // q
  LONG_BINPUT = 0x72, // r
  SETITEM = 0x73, // s
  TUPLE = 0x74, // t
  EMPTY_TUPLE = 0x29, // )
  SETITEMS = 0x75, // u
  BINFLOAT = 0x47, // G
  PROTO = 0x80,
  NEWOBJ = 0x81,
  EXT1 = 0x82,
  EXT2 = 0x83,
  EXT4 = 0x84,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86,
  TUPLE3 = 0x87,
  NEWTRUE = 0x88,
  NEWFALSE = 0x89,
  LONG1 = 0x8a,
  LONG4 = 0x8b,
  BINBYTES = 0x42, // B
  SHORT_BINBYTES = 0x43, // C
  SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e,
  EMPTY_SET = 0x8f,
  ADDITEMS = 0x90,
  FROZENSET = 0x91,
  NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94,
  FRAME = 0x95,
  BYTEARRAY8 = 0x96,
  NEXT_BUFFER = 0x97,
  READONLY_BUFFER = 0x98,
}

/** Little-endian two's-complement integer of any length, as a number when exact else a bigint. */
function decodeLong(b: Uint8Array): number | bigint {
  const n = b.length;
  if (n === 0) return 0;
  if (n <= 6) {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i];
    if (b[n - 1] & 0x80) v -= 2 ** (8 * n);
    return v;
  }
  let hex = '';
  for (let i = n - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
  let v = BigInt('0x' + hex);
  if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return normalizeInt(v);
}

function normalizeInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A tuple: frozen so that code can tell it from a list (`Object.isFrozen`). */
function tuple(items: unknown[]): readonly unknown[] {
  return Object.freeze(items);
}

/** True when `v` is a tuple decoded by {@link unpickle}. */
export function isPickleTuple(v: unknown): v is readonly unknown[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

/**
 * Decodes one pickle starting at `options.start` (default 0). Returns the value and the offset
 * after its STOP opcode. Throws {@link PickleError} (or {@link UnsafePickleError}) on malformed or
 * unsafe input; errors raised by global implementations or `persistentLoad` propagate if they are
 * {@link WeightsFormatError}s and are wrapped into a PickleError otherwise.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): UnpickleResult {
  const globals = options.globals ?? SAFE_GLOBALS;
  const maxStack = options.maxStack ?? 10_000_000;
  const maxMarkDepth = options.maxMarkDepth ?? 10_000;
  const data = bytes;
  const len = data.length;
  let pos = options.start ?? 0;
  let opPos = pos;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  let stackTotal = 0; // items on all levels, for the size bound
  const memo = new Map<number, unknown>();

  const fail = (msg: string): never => {
    throw new PickleError(msg, opPos);
  };
  const need = (n: number, what: string): void => {
    if (n < 0 || pos + n > len) fail(`truncated pickle: ${what} needs ${n} bytes, ${len - pos} left`);
  };
  const u8 = (): number => {
    need(1, 'operand');
    return data[pos++];
  };
  const u16 = (): number => {
    need(2, 'operand');
    const v = data[pos] | (data[pos + 1] << 8);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4, 'operand');
    const v = (data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16) | (data[pos + 3] << 24)) >>> 0;
    pos += 4;
    return v;
  };
  const i32 = (): number => u32() | 0;
  const u64 = (): number => {
    const lo = u32();
    const hi = u32();
    // Anything past 2^53 cannot be a valid length inside a JS buffer.
    if (hi > 0x1fffff) fail('64-bit length too large');
    return hi * 0x100000000 + lo;
  };
  const take = (n: number, what: string): Uint8Array => {
    need(n, what);
    const v = data.subarray(pos, pos + n);
    pos += n;
    return v;
  };
  const line = (what: string): string => {
    const nl = data.indexOf(0x0a, pos);
    if (nl < 0) fail(`truncated pickle: ${what} has no terminating newline`);
    const s = latin1.decode(data.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const push = (v: unknown): void => {
    if (++stackTotal > maxStack) fail(`pickle stack exceeds ${maxStack} items`);
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('pickle stack underflow');
    stackTotal--;
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('pickle stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail('pickle MARK missing');
    stack = prev as unknown[];
    return items;
  };
  // popMark hands items to the caller, which pushes back at most one value; keep the count honest.
  const consumed = (n: number): void => {
    stackTotal -= n;
  };
  const resolveGlobal = (module: string, name: string): PickleGlobal => {
    const key = `${module}.${name}`;
    const impl = globals.get(key);
    if (!impl) throw new UnsafePickleError(key, opPos);
    return new PickleGlobal(module, name, impl);
  };
  const memoGet = (idx: number): unknown => {
    if (!memo.has(idx)) fail(`memo key ${idx} not found`);
    return memo.get(idx);
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) fail('SETITEM(S) on an object that is not a dict');
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target) || Object.isFrozen(target)) fail('APPEND(S) on an object that is not a list');
    for (const it of items) (target as unknown[]).push(it);
  };
  const persistent = (pid: unknown): unknown => {
    if (!options.persistentLoad) fail('pickle has a persistent id but no persistent_load handler was given');
    return options.persistentLoad!(pid);
  };
  const callGlobal = (fn: unknown, args: unknown, how: 'REDUCE' | 'NEWOBJ', kwargs?: unknown): unknown => {
    if (!(fn instanceof PickleGlobal)) fail(`${how} on a value that is not an allowlisted global`);
    const g = fn as PickleGlobal;
    if (!Array.isArray(args)) fail(`${how} ${g.qualifiedName}: arguments are not a tuple`);
    if (how === 'REDUCE') {
      if (!g.impl.call) fail(`${g.qualifiedName} cannot be called`);
      return g.impl.call!(args as unknown[]);
    }
    if (!g.impl.newobj) fail(`${g.qualifiedName} cannot be instantiated`);
    const kw = kwargs === undefined ? new Map() : kwargs;
    if (!(kw instanceof Map)) fail(`NEWOBJ_EX ${g.qualifiedName}: kwargs are not a dict`);
    return g.impl.newobj!(args as unknown[], kw as Map<unknown, unknown>);
  };

  try {
    for (;;) {
      opPos = pos;
      if (pos >= len) fail('truncated pickle: no STOP opcode');
      const op = data[pos++];
      switch (op) {
        case Op.PROTO: {
          const v = u8();
          if (v > 5) fail(`unsupported pickle protocol ${v}`);
          break;
        }
        case Op.FRAME: {
          const n = u64();
          // Frames only group opcodes for buffering; we just check the frame is really there.
          need(n, 'FRAME');
          break;
        }
        case Op.STOP: {
          const value = pop();
          return { value, end: pos };
        }
        case Op.MARK:
          if (metastack.length >= maxMarkDepth) fail(`pickle MARK nesting exceeds ${maxMarkDepth}`);
          metastack.push(stack);
          stack = [];
          break;
        case Op.POP:
          if (stack.length > 0) pop();
          else consumed(popMark().length);
          break;
        case Op.POP_MARK:
          consumed(popMark().length);
          break;
        case Op.DUP:
          push(top());
          break;
        case Op.NONE:
          push(null);
          break;
        case Op.NEWTRUE:
          push(true);
          break;
        case Op.NEWFALSE:
          push(false);
          break;
        case Op.BININT:
          push(i32());
          break;
        case Op.BININT1:
          push(u8());
          break;
        case Op.BININT2:
          push(u16());
          break;
        case Op.LONG1: {
          const n = u8();
          push(decodeLong(take(n, 'LONG1')));
          break;
        }
        case Op.LONG4: {
          const n = i32();
          if (n < 0) fail('LONG4 with negative length');
          if (n > MAX_LONG_BYTES) fail(`LONG4 of ${n} bytes exceeds the ${MAX_LONG_BYTES}-byte limit`);
          push(decodeLong(take(n, 'LONG4')));
          break;
        }
        case Op.INT: {
          const s = line('INT');
          if (s === '00') push(false);
          else if (s === '01') push(true);
          else push(parseDecimal(s, fail));
          break;
        }
        case Op.LONG: {
          const s = line('LONG');
          push(parseDecimal(s.endsWith('L') ? s.slice(0, -1) : s, fail));
          break;
        }
        case Op.FLOAT: {
          const s = line('FLOAT').trim();
          const v = Number(s);
          if (s === '' || (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)))
            fail(`bad FLOAT literal ${JSON.stringify(truncateText(s, 40))}`);
          push(v);
          break;
        }
        case Op.BINFLOAT: {
          need(8, 'BINFLOAT');
          push(new DataView(data.buffer, data.byteOffset + pos, 8).getFloat64(0, false));
          pos += 8;
          break;
        }
        case Op.BINUNICODE:
          push(utf8.decode(take(u32(), 'BINUNICODE')));
          break;
        case Op.SHORT_BINUNICODE:
          push(utf8.decode(take(u8(), 'SHORT_BINUNICODE')));
          break;
        case Op.BINUNICODE8:
          push(utf8.decode(take(u64(), 'BINUNICODE8')));
          break;
        case Op.BINSTRING: {
          const n = i32();
          if (n < 0) fail('BINSTRING with negative length');
          // Python 2 str; torch.load decodes these as UTF-8 by default, and so do we.
          push(utf8.decode(take(n, 'BINSTRING')));
          break;
        }
        case Op.SHORT_BINSTRING:
          push(utf8.decode(take(u8(), 'SHORT_BINSTRING')));
          break;
        case Op.BINBYTES:
          push(take(u32(), 'BINBYTES').slice());
          break;
        case Op.SHORT_BINBYTES:
          push(take(u8(), 'SHORT_BINBYTES').slice());
          break;
        case Op.BINBYTES8:
          push(take(u64(), 'BINBYTES8').slice());
          break;
        case Op.BYTEARRAY8:
          push(take(u64(), 'BYTEARRAY8').slice());
          break;
        case Op.EMPTY_DICT:
          push(new Map());
          break;
        case Op.EMPTY_LIST:
          push([]);
          break;
        case Op.EMPTY_TUPLE:
          push(tuple([]));
          break;
        case Op.EMPTY_SET:
          push(new Set());
          break;
        case Op.TUPLE: {
          const items = popMark();
          consumed(items.length);
          push(tuple(items));
          break;
        }
        case Op.TUPLE1: {
          const a = pop();
          push(tuple([a]));
          break;
        }
        case Op.TUPLE2: {
          const b = pop();
          const a = pop();
          push(tuple([a, b]));
          break;
        }
        case Op.TUPLE3: {
          const c = pop();
          const b = pop();
          const a = pop();
          push(tuple([a, b, c]));
          break;
        }
        case Op.LIST: {
          const items = popMark();
          consumed(items.length);
          push(items);
          break;
        }
        case Op.DICT: {
          const items = popMark();
          consumed(items.length);
          const m = new Map<unknown, unknown>();
          setItems(m, items);
          push(m);
          break;
        }
        case Op.FROZENSET: {
          const items = popMark();
          consumed(items.length);
          push(new Set(items));
          break;
        }
        case Op.ADDITEMS: {
          const items = popMark();
          consumed(items.length);
          const s = top();
          if (!(s instanceof Set)) fail('ADDITEMS on an object that is not a set');
          for (const it of items) (s as Set<unknown>).add(it);
          break;
        }
        case Op.SETITEM: {
          const v = pop();
          const k = pop();
          setItems(top(), [k, v]);
          break;
        }
        case Op.SETITEMS: {
          const items = popMark();
          consumed(items.length);
          setItems(top(), items);
          break;
        }
        case Op.APPEND: {
          const v = pop();
          appendItems(top(), [v]);
          break;
        }
        case Op.APPENDS: {
          const items = popMark();
          consumed(items.length);
          appendItems(top(), items);
          break;
        }
        case Op.BINPUT:
          memo.set(u8(), top());
          break;
        case Op.LONG_BINPUT:
          memo.set(u32(), top());
          break;
        case Op.PUT:
          memo.set(Number(parseDecimal(line('PUT'), fail)), top());
          break;
        case Op.MEMOIZE:
          memo.set(memo.size, top());
          break;
        case Op.BINGET:
          push(memoGet(u8()));
          break;
        case Op.LONG_BINGET:
          push(memoGet(u32()));
          break;
        case Op.GET:
          push(memoGet(Number(parseDecimal(line('GET'), fail))));
          break;
        case Op.GLOBAL: {
          const module = line('GLOBAL module');
          const name = line('GLOBAL name');
          push(resolveGlobal(module, name));
          break;
        }
        case Op.STACK_GLOBAL: {
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string')
            fail('STACK_GLOBAL operands are not strings');
          push(resolveGlobal(module as string, name as string));
          break;
        }
        case Op.REDUCE: {
          const args = pop();
          const fn = pop();
          push(callGlobal(fn, args, 'REDUCE'));
          break;
        }
        case Op.NEWOBJ: {
          const args = pop();
          const cls = pop();
          push(callGlobal(cls, args, 'NEWOBJ'));
          break;
        }
        case Op.NEWOBJ_EX: {
          const kwargs = pop();
          const args = pop();
          const cls = pop();
          push(callGlobal(cls, args, 'NEWOBJ', kwargs));
          break;
        }
        case Op.BUILD: {
          const state = pop();
          const obj = top();
          if (obj === null || typeof obj !== 'object') fail('BUILD on a value that is not an object');
          const settable = obj as Partial<PickleSettable>;
          if (typeof settable[PICKLE_SETSTATE] === 'function') settable[PICKLE_SETSTATE](state);
          else buildStates.set(obj as object, state);
          break;
        }
        case Op.BINPERSID:
          push(persistent(pop()));
          break;
        case Op.PERSID:
          push(persistent(line('PERSID')));
          break;
        case Op.STRING:
        case Op.UNICODE:
        case Op.INST:
        case Op.OBJ:
        case Op.EXT1:
        case Op.EXT2:
        case Op.EXT4:
        case Op.NEXT_BUFFER:
        case Op.READONLY_BUFFER:
          fail(`unsupported pickle opcode 0x${op.toString(16)} (${opName(op)})`);
          break;
        default:
          fail(`unknown pickle opcode 0x${op.toString(16)}`);
      }
    }
  } catch (e) {
    if (e instanceof WeightsFormatError) throw e;
    // Anything else (e.g. an allocation failure) still becomes a typed, located error.
    const err = new PickleError(`pickle decoding failed: ${(e as Error)?.message ?? String(e)}`, opPos);
    (err as { cause?: unknown }).cause = e;
    throw err;
  }
}

function opName(op: number): string {
  const names: Record<number, string> = {
    83: 'STRING',
    86: 'UNICODE',
    105: 'INST',
    111: 'OBJ',
    130: 'EXT1',
    131: 'EXT2',
    132: 'EXT4',
    151: 'NEXT_BUFFER',
    152: 'READONLY_BUFFER',
  };
  return names[op] ?? '?';
}

function parseDecimal(s: string, fail: (m: string) => never): number | bigint {
  const t = s.trim();
  if (!/^[-+]?\d{1,4300}$/.test(t)) fail(`bad integer literal ${JSON.stringify(t.slice(0, 40))}`);
  return normalizeInt(BigInt(t));
}
