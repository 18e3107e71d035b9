/**
 * Shared helpers of the weights tests: fixture lookup, a seeded PRNG, a hand-written pickle
 * builder for crafted (malicious / malformed) pickles, and a walker that materialises every
 * tensor of a decoded checkpoint. Not a test file itself (it defines no tests).
 */

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TorchTensor, WeightsFormatError } from '../../src/weights/index.js';

/**
 * The repo's `test/fixtures/` directory. Compiled tests live at different depths (dist/test/...
 * for `npm test`, other out dirs during development), so walk up until it is found.
 */
export function fixturesRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'test', 'fixtures', 'rla-official');
    if (existsSync(candidate)) return join(dir, 'test', 'fixtures');
    dir = dirname(dir);
  }
  throw new Error('cannot locate test/fixtures from ' + import.meta.url);
}

/** Bytes of `test/fixtures/<rel>` as a plain Uint8Array. */
export function fixtureBytes(rel: string): Uint8Array {
  const b = readFileSync(join(fixturesRoot(), rel));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** JSON content of `test/fixtures/<rel>`. */
export function fixtureJson<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(join(fixturesRoot(), rel), 'utf8')) as T;
}

/** mulberry32: small, fast, deterministic PRNG for the fuzz tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `fn`; returns 'ok' or the typed error; any other exception fails the test with context. */
export function typedOutcome(fn: () => void, what: string): 'ok' | WeightsFormatError {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof WeightsFormatError) return e;
    assert.fail(
      `${what}: expected a WeightsFormatError, got ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`,
    );
  }
}

/**
 * Visits every value reachable from a decoded checkpoint (iteratively, cycle-safe) and fully
 * converts each tensor, so lazily-read storages are exercised too. Returns the tensor count.
 */
export function materializeAll(root: unknown): number {
  const seen = new Set<unknown>();
  const todo: unknown[] = [root];
  let tensors = 0;
  while (todo.length > 0) {
    const v = todo.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof TorchTensor) {
      tensors++;
      if (
        v.dtype === 'int64' ||
        v.dtype === 'int32' ||
        v.dtype === 'int16' ||
        v.dtype === 'int8' ||
        v.dtype === 'uint8' ||
        v.dtype === 'bool'
      ) {
        v.toBigInt64Array();
      }
      v.toFloat32Array();
    } else if (v instanceof Map) {
      for (const [k, x] of v) todo.push(k, x);
    } else if (Array.isArray(v) || v instanceof Set) {
      for (const x of v) todo.push(x);
    }
  }
  return tensors;
}

/** Builds pickle byte streams opcode by opcode (for crafted inputs in tests). */
export class PickleBuilder {
  readonly bytes: number[] = [];
  op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  ascii(s: string): this {
    for (const ch of Buffer.from(s, 'utf8')) this.bytes.push(ch);
    return this;
  }
  proto(v = 2): this {
    return this.op(0x80, v);
  }
  /** GLOBAL 'module\nname\n'. */
  global(module: string, name: string): this {
    return this.op(0x63).ascii(`${module}\n${name}\n`);
  }
  /** SHORT_BINUNICODE (protocol 4) or BINUNICODE. */
  str(s: string, short = false): this {
    const b = Buffer.from(s, 'utf8');
    if (short) return this.op(0x8c, b.length).op(...b);
    return this.op(0x58, b.length & 0xff, (b.length >> 8) & 0xff, 0, 0).op(...b);
  }
  stackGlobal(module: string, name: string): this {
    return this.str(module, true).str(name, true).op(0x93);
  }
  /** (arg,) REDUCE */
  call1(arg: string): this {
    return this.str(arg).op(0x85, 0x52);
  }
  stop(): Uint8Array {
    return Uint8Array.from([...this.bytes, 0x2e]);
  }
}
