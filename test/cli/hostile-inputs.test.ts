import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { identityOf, toSafetensorsBytes } from '../../src/checkpoint/save-checkpoint.js';
import { failureMessage, main, WASM_RUNTIME_ERROR } from '../../src/cli/main.js';
import { cifarPreprocessing } from '../../src/data/preprocessing.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/models/index.js';
import { crc32 } from '../../src/weights/crc32.js';
import { writeSafetensors } from '../../src/weights/safetensors.js';
import { patternRgb, pngBytes, tempDir, writeCifar10 } from '../data/_files.js';

/** Text that means a JavaScript exception or a raw value reached the user. */
const RAW =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: an escape character reaching the terminal is a failure
  /TypeError|RangeError|SyntaxError|ReferenceError|Invalid typed array|Cannot read prop|is not a function|undefined|NaN%|\u001b/;

/** Runs the CLI; everything printed (stdout lines and stderr) comes back as one text. */
async function rla(...argv: string[]): Promise<{ code: number; text: string }> {
  const printed: string[] = [];
  const consoleError = console.error;
  console.error = (message: unknown) => printed.push(String(message));
  try {
    const code = await main(argv, (line) => printed.push(line));
    return { code, text: printed.join('\n') };
  } finally {
    console.error = consoleError;
  }
}

/** A PNG whose IHDR declares `width` x `height` (the rest does not matter: it must be refused first). */
function pngDeclaring(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(25);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, 13);
  ihdr.set([0x49, 0x48, 0x44, 0x52], 4);
  dv.setUint32(8, width);
  dv.setUint32(12, height);
  ihdr.set([8, 2, 0, 0, 0], 16);
  dv.setUint32(21, crc32(ihdr.subarray(4, 21)));
  return Buffer.concat([
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    ihdr,
    deflateSync(new Uint8Array(8)),
  ]);
}

describe('no raw JavaScript exception reaches a CLI user: hostile inputs get messages naming the file', () => {
  const dir = tempDir('rla-hostile-');
  const data = join(dir, 'cifar');
  const image = join(dir, 'photo.png');
  /** A tiny model's weights file with the given extra metadata. */
  const weightsWith = (name: string, extra: Record<string, string>) => {
    const model = createModel('rla_resnet50', {
      layers: [1, 1, 1, 1],
      widthPerGroup: 2,
      rlaChannel: 4,
      numClasses: 10,
      seed: 1,
    });
    const path = join(dir, name);
    writeFileSync(path, toSafetensorsBytes(model, identityOf(model), extra));
    model.dispose();
    return path;
  };

  before(async () => {
    await initBackend({ backend: 'cpu' });
    writeCifar10(data, 1, 2);
    writeFileSync(image, pngBytes(patternRgb(1, 32, 32), 32, 32));
  });

  /** Each probe: the command line, the exit code and what the message must say. */
  const probes: Array<[string, () => string[], number, RegExp]> = [
    [
      'predict on a 0x10 PNG',
      () => {
        writeFileSync(join(dir, 'empty.png'), pngDeclaring(0, 10));
        return [
          'predict',
          join(dir, 'empty.png'),
          '--weights',
          weightsWith('plain.safetensors', {}),
          '--backend',
          'cpu',
        ];
      },
      1,
      /empty\.png: image is 0x10: it has no pixels/,
    ],
    [
      'run with a truncated input file',
      () => {
        const input = writeSafetensors([
          ['input', { dtype: 'F32', shape: [1, 3, 32, 32], data: new Float32Array(3072) }],
        ]);
        writeFileSync(join(dir, 'cut.safetensors'), input.subarray(0, 100));
        return [
          'run',
          '--weights',
          join(dir, 'plain.safetensors'),
          '--input',
          join(dir, 'cut.safetensors'),
          '-o',
          join(dir, 'o.safetensors'),
        ];
      },
      1,
      /cut\.safetensors: tensor input: data_offsets \[0, 12288\] exceed the 20-byte data section/,
    ],
    [
      'run --engine ort with an empty batch',
      () => {
        const input = writeSafetensors([
          ['input', { dtype: 'F32', shape: [0, 3, 32, 32], data: new Float32Array(0) }],
        ]);
        writeFileSync(join(dir, 'empty-batch.safetensors'), input);
        return [
          'run',
          '--engine',
          'ort',
          '--weights',
          join(dir, 'plain.safetensors'),
          '--input',
          join(dir, 'empty-batch.safetensors'),
          '-o',
          join(dir, 'o.safetensors'),
        ];
      },
      2,
      /empty-batch\.safetensors: "input" must be NCHW \[N, 3, H, W\] with N >= 1, got \[0,3,32,32\]/,
    ],
    [
      'convert of a file asking for 20000 blocks',
      () => {
        const options = JSON.stringify({ layers: [20000, 1, 1, 1] });
        writeFileSync(
          join(dir, 'deep.safetensors'),
          writeSafetensors([], { format: 'rla-net', model: 'rla_resnet50', options }),
        );
        return ['convert', join(dir, 'deep.safetensors'), '-o', join(dir, 'out.pth')];
      },
      1,
      /deep\.safetensors: __metadata__\.options: layers .*: must be 4 integers in 1\.\.64/,
    ],
    [
      'eval of weights whose stored std is 0',
      () => {
        const preprocessing = JSON.stringify({ ...cifarPreprocessing(), std: [0, 0, 0] });
        return [
          'eval',
          '--weights',
          weightsWith('std0.safetensors', { preprocessing, dataset: 'cifar10' }),
          '--data',
          data,
          '--backend',
          'cpu',
        ];
      },
      1,
      /std0\.safetensors: __metadata__\.preprocessing: std list of 3 items \[0, 0, 0\] must be 3 finite numbers > 0/,
    ],
    [
      'predict with weights whose stored preprocessing has an unknown op',
      () => {
        const preprocessing = JSON.stringify({ ...cifarPreprocessing(), eval: [{ op: 'warp' }] });
        return [
          'predict',
          image,
          '--weights',
          weightsWith('warp.safetensors', { preprocessing }),
          '--backend',
          'cpu',
        ];
      },
      1,
      /warp\.safetensors: __metadata__\.preprocessing: eval\[0\]: unknown op "warp"/,
    ],
    [
      'train --resume from a checkpoint with a hollow state',
      () => {
        mkdirSync(join(dir, 'run'), { recursive: true });
        const checkpoint = writeSafetensors([], { format: 'rla-net-training', state: '{"version":1}' });
        writeFileSync(join(dir, 'run', 'checkpoint.safetensors'), checkpoint);
        return ['train', '--resume', join(dir, 'run'), '--engine', 'tfjs'];
      },
      1,
      /checkpoint\.safetensors: __metadata__\.state: epoch and batch must be integers >= 0/,
    ],
  ];
  for (const [what, argv, expectedCode, pattern] of probes) {
    it(what, async () => {
      const { code, text } = await rla(...argv());
      assert.equal(code, expectedCode, text);
      assert.match(text, pattern);
      assert.doesNotMatch(text, RAW);
    });
  }

  it('class names with terminal escape sequences are printed neutralised', async () => {
    const classes = JSON.stringify(Array.from({ length: 10 }, (_, i) => `class\u001b[2J\u009b${i}`));
    const preprocessing = JSON.stringify(cifarPreprocessing());
    const weights = weightsWith('escapes.safetensors', { preprocessing, classes });
    const { code, text } = await rla('predict', image, '--weights', weights, '--backend', 'cpu');
    assert.equal(code, 0, text);
    assert.match(text, /class\ufffd\[2J\ufffd\d \(\d\)/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape characters are what must not appear
    assert.doesNotMatch(text, /[\u001b\u009b]/);
  });

  it('an exception the checks missed is reported without its raw text', () => {
    const message = failureMessage('run', new RangeError('Invalid typed array length: Infinity'));
    assert.match(
      message,
      /^rla run: failed on an input that rla-net does not check yet \(internal RangeError\)/,
    );
    assert.doesNotMatch(message, /Invalid typed array/);
    assert.equal(failureMessage('run', new Error('x.pth: bad record')), 'rla run: x.pth: bad record');
  });

  it('a wasm runtime failure says what it usually means and what to do', () => {
    assert.ok(WASM_RUNTIME_ERROR, 'WebAssembly.RuntimeError exists in Node');
    const WasmRuntimeError = WASM_RUNTIME_ERROR;
    const message = failureMessage('train', new WasmRuntimeError('memory access out of bounds'));
    assert.match(message, /^rla train: the TF\.js wasm backend failed \(memory access out of bounds\)/);
    assert.match(message, /heap .* exhausted: use a smaller --batch-size .* --engine ort/);
    const aborted = failureMessage('study', new WasmRuntimeError('Aborted(). Build with -sASSERTIONS'));
    assert.match(aborted, /^rla study: the TF\.js wasm backend failed \(Aborted\(\)\), usually/);
  });
});
