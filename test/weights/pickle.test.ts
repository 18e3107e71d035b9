import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  isPickleTuple,
  PickleError,
  readTorchCheckpoint,
  TORCH_GLOBALS,
  UnsafePickleError,
  unpickle,
  writeZip,
} from '../../src/weights/index.js';
import { PickleBuilder } from './_helpers.js';

const b = () => new PickleBuilder();

describe('pickle VM: values', () => {
  it('decodes protocol 2 containers, ints, floats, strings and memo references', () => {
    // {'a': [1, -2, 300, 70000, 1.5, True, None], 'b': ('x',), 'c': <memo of the list>}
    const p = b()
      .proto(2)
      .op(0x7d) // EMPTY_DICT
      .op(0x28) // MARK
      .str('a')
      .op(0x5d, 0x71, 0x01) // EMPTY_LIST, BINPUT 1
      .op(0x28, 0x4b, 0x01) // MARK, BININT1 1
      .op(0x4a, 0xfe, 0xff, 0xff, 0xff) // BININT -2
      .op(0x4d, 0x2c, 0x01) // BININT2 300
      .op(0x4a, 0x70, 0x11, 0x01, 0x00) // BININT 70000
      .op(0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0) // BINFLOAT 1.5 (big-endian)
      .op(0x88, 0x4e) // NEWTRUE, NONE
      .op(0x65) // APPENDS
      .str('b')
      .str('x')
      .op(0x85) // TUPLE1
      .str('c')
      .op(0x68, 0x01) // BINGET 1
      .op(0x75) // SETITEMS
      .stop();
    const { value, end } = unpickle(p);
    assert.equal(end, p.length);
    assert.ok(value instanceof Map);
    const m = value as Map<string, unknown>;
    assert.deepEqual([...m.keys()], ['a', 'b', 'c']);
    assert.deepEqual(m.get('a'), [1, -2, 300, 70000, 1.5, true, null]);
    assert.ok(isPickleTuple(m.get('b')));
    assert.deepEqual([...(m.get('b') as unknown[])], ['x']);
    assert.equal(m.get('c'), m.get('a'), 'BINGET returns the same object');
  });

  it('decodes LONG1 beyond 2^53 as bigint and small LONG1 as number', () => {
    const big = unpickle(b().op(0x8a, 8, 0x01, 0, 0, 0, 0, 0, 0x20, 0).stop()).value; // 2^53 + 1
    assert.equal(big, 2n ** 53n + 1n);
    const neg = unpickle(b().op(0x8a, 2, 0x00, 0xff).stop()).value;
    assert.equal(neg, -256);
    const zero = unpickle(b().op(0x8a, 0).stop()).value;
    assert.equal(zero, 0);
  });

  it('decodes protocol 4 framing, SHORT_BINUNICODE, MEMOIZE and STACK_GLOBAL of an allowlisted name', () => {
    const body = new PickleBuilder()
      .stackGlobal('collections', 'OrderedDict')
      .op(0x94, 0x29, 0x52)
      .str('k', true)
      .op(0x94)
      .str('v', true)
      .op(0x73);
    const frame = body.bytes.length + 1;
    const p = b()
      .proto(4)
      .op(0x95, frame, 0, 0, 0, 0, 0, 0, 0)
      .op(...body.bytes)
      .stop();
    const v = unpickle(p).value as Map<unknown, unknown>;
    assert.deepEqual([...v], [['k', 'v']]);
  });

  it('decodes bytes written via _codecs.encode (protocol 2) and BINBYTES (protocol 3)', () => {
    const p2 = b()
      .proto(2)
      .global('_codecs', 'encode')
      .str('\u0000\u00ffA')
      .str('latin1')
      .op(0x86, 0x52)
      .stop();
    assert.deepEqual(unpickle(p2).value, Uint8Array.from([0, 255, 65]));
    const p3 = b().proto(3).op(0x43, 2, 7, 8).stop();
    assert.deepEqual(unpickle(p3).value, Uint8Array.from([7, 8]));
  });
});

describe('pickle VM: malformed input', () => {
  it('reports truncation with the byte offset', () => {
    const p = b().proto(2).op(0x58, 10, 0, 0, 0).ascii('abc').bytes;
    assert.throws(
      () => unpickle(Uint8Array.from(p)),
      (e: unknown) =>
        e instanceof PickleError && e.offset === 2 && /truncated pickle.*at pickle byte 2/.test(e.message),
    );
  });

  it('rejects unknown and unsupported opcodes, missing STOP, stack underflow, bad memo keys', () => {
    assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0xff])), /unknown pickle opcode 0xff/);
    assert.throws(
      () => unpickle(Uint8Array.from([0x80, 2, 0x69])),
      /unsupported pickle opcode 0x69 \(INST\)/,
    );
    assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0x4e])), /no STOP/);
    assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0x2e])), /underflow/);
    assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0x68, 9, 0x2e])), /memo key 9 not found/);
    assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0x74, 0x2e])), /MARK missing/);
    assert.throws(() => unpickle(Uint8Array.from([0x80, 9, 0x4e, 0x2e])), /protocol 9/);
    assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0x4e, 0x51, 0x2e])), /persistent id/);
    assert.throws(() => unpickle(new Uint8Array(0)), PickleError);
  });

  it('bounds the stack and the MARK depth', () => {
    const deep = new Uint8Array(50_001).fill(0x28);
    assert.throws(() => unpickle(deep), /MARK nesting exceeds/);
    const dups = Uint8Array.from([0x4e, ...new Array(100).fill(0x32), 0x2e]);
    assert.throws(() => unpickle(dups, { maxStack: 50 }), /stack exceeds 50/);
  });

  it('refuses REDUCE on a non-callable value and SETITEM on a list', () => {
    assert.throws(() => unpickle(b().proto(2).str('x').op(0x29, 0x52).stop()), /not an allowlisted global/);
    assert.throws(() => unpickle(b().proto(2).op(0x5d).str('k').str('v').op(0x73).stop()), /not a dict/);
  });
});

describe('pickle VM: "billion laughs" structures in error messages', () => {
  /** Pushes one tuple whose nested copies (shared through DUP) hold 2^60 leaves: 121 bytes of pickle. */
  const laughs = (p: PickleBuilder): PickleBuilder => {
    p.op(0x4e);
    for (let i = 0; i < 60; i++) p.op(0x32, 0x86);
    return p;
  };
  const failsFast = (run: () => unknown, expected: RegExp) => {
    const started = performance.now();
    assert.throws(run, (e: unknown) => {
      assert.ok(e instanceof Error && expected.test(e.message), `got ${(e as Error).message}`);
      assert.ok((e as Error).message.length < 600, `message of ${(e as Error).message.length} chars`);
      return true;
    });
    const ms = performance.now() - started;
    assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
  };

  it('an argument shared 2^60 times is summarised, not stringified: fails in well under 2 s', () => {
    const encode = laughs(b().proto(2).global('_codecs', 'encode').str('a')).op(0x86, 0x52).stop();
    failsFast(
      () => unpickle(encode),
      /_codecs\.encode: encoding tuple of 2 items \(tuple of 2 items \(tuple of 2 items, .*\)\) is not a str/,
    );
  });

  it('the same structure as a storage id or a device argument in a checkpoint', () => {
    const checkpoint = (pkl: Uint8Array) => writeZip([{ name: 'bomb/data.pkl', data: pkl }]);
    const pid = laughs(b().proto(2).op(0x28)).str('a').str('b').str('c').str('d').op(0x74);
    failsFast(
      () => readTorchCheckpoint(checkpoint(pid.op(0x51).stop()), { fileName: 'bomb.pth' }),
      /^bomb\.pth: malformed storage persistent id: kind tuple of 2 items/,
    );
    const device = laughs(b().proto(2).global('torch', 'device')).op(0x85, 0x52).stop();
    failsFast(
      () => readTorchCheckpoint(checkpoint(device), { fileName: 'bomb.pth' }),
      /^bomb\.pth: torch\.device\(\): arguments tuple of 1 item \(tuple of 2 items \(/,
    );
  });
});

describe('pickle VM: unsafe globals are refused and never executed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rla-pickle-'));
  const marker = join(dir, 'pwned');
  const cmd = `touch ${marker}`;
  const cases: [string, string][] = [
    ['os', 'system'],
    ['posix', 'system'],
    ['nt', 'system'],
    ['builtins', 'eval'],
    ['builtins', 'exec'],
    ['subprocess', 'Popen'],
    ['torch', 'load'],
    ['numpy.core.multiarray', '_reconstruct'],
  ];

  for (const [module, name] of cases) {
    it(`refuses ${module}.${name} via GLOBAL and via STACK_GLOBAL`, () => {
      const viaGlobal = b().proto(2).global(module, name).call1(cmd).stop();
      const viaStack = b().proto(4).stackGlobal(module, name).call1(cmd).stop();
      for (const p of [viaGlobal, viaStack]) {
        for (const globals of [undefined, TORCH_GLOBALS]) {
          assert.throws(
            () => unpickle(p, { globals }),
            (e: unknown) =>
              e instanceof UnsafePickleError &&
              e.global === `${module}.${name}` &&
              e.message.includes(`refused global ${module}.${name}`),
          );
        }
      }
      assert.equal(existsSync(marker), false, 'the command must not have run');
    });
  }

  it('refuses a malicious data.pkl inside a zip checkpoint and names the file and the global', () => {
    const evil = b().proto(2).global('os', 'system').call1(cmd).stop();
    const zip = writeZip([
      { name: 'evil/data.pkl', data: evil },
      { name: 'evil/version', data: new TextEncoder().encode('3\n') },
    ]);
    assert.throws(
      () => readTorchCheckpoint(zip, { fileName: 'evil.pth' }),
      (e: unknown) =>
        e instanceof UnsafePickleError && /^evil\.pth: .*refused global os\.system/.test(e.message),
    );
    // A global hidden behind an allowlisted one (reduce of reduce) is refused as well.
    const nested = b()
      .proto(2)
      .global('collections', 'OrderedDict')
      .global('subprocess', 'Popen')
      .call1(cmd)
      .op(0x85, 0x52)
      .stop();
    assert.throws(
      () => readTorchCheckpoint(writeZip([{ name: 'x/data.pkl', data: nested }])),
      /refused global subprocess\.Popen/,
    );
    assert.equal(existsSync(marker), false, 'the command must not have run');
    rmSync(dir, { recursive: true, force: true });
  });
});
