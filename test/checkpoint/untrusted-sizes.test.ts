import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadModelFile } from '../../src/checkpoint/model-file.js';
import { initBackend } from '../../src/engine/backend.js';
import { trainedModelInfo } from '../../src/train/trained-model-info.js';
import { writeSafetensors } from '../../src/weights/safetensors.js';
import { tempDir } from '../data/_files.js';

/** A safetensors file of zero-size tensors (shapes only) with the given metadata. */
function headerOnlyFile(dir: string, name: string, shapes: Record<string, number[]>, metadata = {}): string {
  const path = join(dir, name);
  const tensors = Object.entries(shapes).map(
    ([key, shape]) => [key, { dtype: 'F32' as const, shape, data: new Float32Array(0) }] as const,
  );
  writeFileSync(path, writeSafetensors(tensors, metadata));
  return path;
}

const EVAL_PIPELINE = {
  train: [],
  eval: [],
  mean: [0.5, 0.5, 0.5],
  std: [0.25, 0.25, 0.25],
  size: 32,
  native: null,
};

describe('models built from sizes a file declares are bounded before anything is allocated', () => {
  const dir = tempDir('rla-sizes-');
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('__metadata__.options asking for 20000 blocks per stage is refused, naming the file, key and bound', async () => {
    const path = headerOnlyFile(
      dir,
      'deep.safetensors',
      {},
      { format: 'rla-net', model: 'rla_resnet50', options: '{"layers":[20000,1,1,1]}' },
    );
    await assert.rejects(
      loadModelFile(path),
      /^CheckpointError: deep\.safetensors: __metadata__\.options: layers list of 4 items \[20000, 1, 1, \.\.\.\]: must be 4 integers in 1\.\.64 \(blocks per stage\)$/,
    );
  });

  it('options that are not JSON, not an object, or of the wrong type are refused the same way', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"layers":', /bad\.safetensors: __metadata__\.options is not valid JSON/],
      ['[1,2]', /bad\.safetensors: __metadata__\.options must be a JSON object, got list of 2 items/],
      [
        '{"numClasses":1e9}',
        /bad\.safetensors: __metadata__\.options: numClasses 1000000000: must be an integer in 1\.\.100000/,
      ],
      [
        '{"rlaInput":"sideways"}',
        /bad\.safetensors: __metadata__\.options: rlaInput "sideways": must be one of/,
      ],
      [
        '{"dropRate":0.5}',
        /bad\.safetensors: cannot build the model it describes: model rla_resnet50 does not take option\(s\) dropRate/,
      ],
    ];
    for (const [options, pattern] of cases) {
      const path = headerOnlyFile(
        dir,
        'bad.safetensors',
        {},
        { format: 'rla-net', model: 'rla_resnet50', options },
      );
      await assert.rejects(loadModelFile(path), pattern, options);
    }
  });

  it('key-shape inference refuses fc.weight [400000, 0] from the header (3.2 GB of classifier before)', async () => {
    const square = [64, 64, 0, 0];
    const path = headerOnlyFile(dir, 'wide-fc.safetensors', {
      'layer1.0.conv1.weight': square,
      'layer1.0.conv2.weight': square,
      'layer2.0.conv1.weight': square,
      'layer3.0.conv1.weight': square,
      'layer4.0.conv1.weight': square,
      'fc.weight': [400000, 0],
    });
    await assert.rejects(
      loadModelFile(path),
      /^CheckpointError: wide-fc\.safetensors: options inferred from key shapes \(resnet50\): numClasses 400000: must be an integer in 1\.\.100000$/,
    );
  });

  it('huge inferred widths are refused the same way', async () => {
    const path = headerOnlyFile(dir, 'wide-conv.safetensors', {
      'layer1.0.conv1.weight': [64, 64, 0, 0],
      'layer1.0.conv2.weight': [1_000_000, 1_000_000, 0, 0],
      'layer2.0.conv1.weight': [64, 64, 0, 0],
      'layer3.0.conv1.weight': [64, 64, 0, 0],
      'layer4.0.conv1.weight': [64, 64, 0, 0],
      'fc.weight': [10, 0],
    });
    await assert.rejects(
      loadModelFile(path),
      /wide-conv\.safetensors: .*widthPerGroup 1000000: must be an integer in 1\.\.256/,
    );
  });
});

describe('stored preprocessing and class names are validated, never used or printed raw', () => {
  const stored = (preprocessing: unknown, classes: unknown = ['a', 'b']) =>
    trainedModelInfo(
      {
        preprocessing: typeof preprocessing === 'string' ? preprocessing : JSON.stringify(preprocessing),
        classes: JSON.stringify(classes),
      },
      'best.safetensors',
    );

  it('a valid pipeline is returned as stored', () => {
    assert.deepEqual(stored(EVAL_PIPELINE).preprocessing, EVAL_PIPELINE);
  });

  it('size 4096, an unknown op, std 0 and bad JSON are errors naming the file and the key', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...EVAL_PIPELINE, size: 4096 }, /size 4096 must be an integer in 1\.\.1024/],
      [
        { ...EVAL_PIPELINE, eval: [{ op: 'centerCrop', size: 4096 }] },
        /eval\[0\]: centerCrop\.size 4096 must be an integer in 1\.\.1024/,
      ],
      [
        { ...EVAL_PIPELINE, eval: [{ op: 'warp', amount: 3 }] },
        /eval\[0\]: unknown op "warp" \(known: pad, randomCrop/,
      ],
      [
        { ...EVAL_PIPELINE, std: [0, 0.2, 0.2] },
        /std list of 3 items \[0, 0\.2, 0\.2\] must be 3 finite numbers > 0/,
      ],
      [{ ...EVAL_PIPELINE, mean: [0, 0] }, /mean list of 2 items/],
      [{ ...EVAL_PIPELINE, train: 'all' }, /train "all" is not a list of ops/],
      ['{"train": [', /not valid JSON/],
    ];
    for (const [preprocessing, pattern] of cases) {
      assert.throws(
        () => stored(preprocessing),
        (error: Error) => {
          assert.equal(error.name, 'CheckpointError');
          assert.match(error.message, /^best\.safetensors: __metadata__\.preprocessing: /);
          assert.match(error.message, pattern);
          return true;
        },
      );
    }
  });

  it('class names lose terminal escape sequences and are cut; a non-list is an error', () => {
    const names = stored(EVAL_PIPELINE, ['cat\u001b]0;pwned\u0007', `dog${'g'.repeat(500)}`, '\u009b2J'])
      .classNames!;
    assert.equal(names[0], 'cat\ufffd]0;pwned\ufffd');
    assert.ok(names[1].length < 160 && names[1].endsWith('(503 chars)'));
    assert.equal(names[2], '\ufffd2J');
    assert.throws(
      () => stored(EVAL_PIPELINE, { a: 1 }),
      /best\.safetensors: __metadata__\.classes: .* must be a list of at most 100000 strings/,
    );
  });

  it('files without stored preprocessing keep the caller default (null)', () => {
    assert.deepEqual(trainedModelInfo({ format: 'rla-net' }, 'x.safetensors'), {
      preprocessing: null,
      classNames: null,
    });
  });
});
