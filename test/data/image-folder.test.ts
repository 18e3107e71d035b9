import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeImage } from '../../src/data/decode.js';
import { loadImageFolder } from '../../src/data/image-folder.js';
import { type Batch, DataLoader } from '../../src/data/loader.js';
import { imagenetPreprocessing } from '../../src/data/preprocessing.js';
import { jpegBytes, patternRgb, pngBytes, tempDir } from './_files.js';

/** root/{cat,dog}/ with PNGs and JPEGs of varying sizes, plus a text file that must be ignored. */
function makeFolder(): string {
  const root = tempDir('rla-imagefolder-');
  const sizes = [
    [40, 52],
    [36, 36],
    [50, 38],
  ];
  for (const [c, name] of ['cat', 'dog'].entries()) {
    mkdirSync(join(root, name, 'sub'), { recursive: true });
    sizes.forEach(([h, w], i) => {
      const rgb = patternRgb(10 * c + i, h, w);
      const file = i % 2 === 0 ? `${i}.png` : `${i}.JPG`;
      writeFileSync(
        join(root, name, i === 2 ? 'sub' : '', file),
        i % 2 === 0 ? pngBytes(rgb, h, w) : jpegBytes(rgb, h, w),
      );
    });
    writeFileSync(join(root, name, 'notes.txt'), 'not an image');
  }
  return root;
}

const loaders: DataLoader[] = [];
after(async () => {
  await Promise.all(loaders.map((l) => l.close()));
});

async function collect(loader: DataLoader, epoch: number): Promise<Batch[]> {
  const batches: Batch[] = [];
  for await (const batch of loader.epoch(epoch)) batches.push(batch);
  return batches;
}

describe('ImageFolder + JPEG/PNG decoding in worker threads', () => {
  it('decodes PNG exactly and JPEG closely', () => {
    const rgb = patternRgb(3, 20, 30);
    const png = decodeImage(pngBytes(rgb, 20, 30), 'a.png');
    assert.deepEqual([png.height, png.width, png.channels], [20, 30, 3]);
    assert.deepEqual(png.data, rgb);
    const jpg = decodeImage(jpegBytes(rgb, 20, 30), 'a.jpg');
    assert.deepEqual([jpg.height, jpg.width], [20, 30]);
    assert.throws(() => decodeImage(new Uint8Array([1, 2, 3, 4]), 'x.png'), /x\.png: not a JPEG or PNG/);
    const broken = pngBytes(rgb, 20, 30).slice(0, 60);
    assert.throws(() => decodeImage(broken, 'b.png'), /b\.png: cannot decode PNG/);
  });

  it('scans classes (sorted dirs) and images (recursive, sorted), ignoring other files', async () => {
    const folder = await loadImageFolder(makeFolder());
    assert.deepEqual(folder.classNames, ['cat', 'dog']);
    assert.equal(folder.length, 6);
    assert.equal(folder.skipped, 2);
    assert.deepEqual(
      Array.from({ length: 6 }, (_, i) => folder.label(i)),
      [0, 0, 0, 1, 1, 1],
    );
    assert.ok(folder.file(0).endsWith(join('cat', '0.png')));
    assert.ok(folder.file(2).endsWith(join('cat', 'sub', '2.png')));
  });

  it('an empty class directory is an error naming it', async () => {
    const root = makeFolder();
    mkdirSync(join(root, 'emu'));
    await assert.rejects(loadImageFolder(root), /no \.jpg\/\.jpeg\/\.png images for class\(es\) emu/);
  });

  it('decodes off the main thread; batches are identical whatever the worker count', async () => {
    const folder = await loadImageFolder(makeFolder());
    const pre = imagenetPreprocessing(32);
    const pipeline = { ops: pre.train, mean: pre.mean, std: pre.std, size: 32 };
    const make = (workers: number) => {
      const loader = new DataLoader(folder, { batchSize: 4, shuffle: true, pipeline, seed: 5, workers });
      loaders.push(loader);
      return loader;
    };
    const one = await collect(make(1), 0);
    const two = await collect(make(2), 0);
    assert.deepEqual(
      one.map((b) => b.size),
      [4, 2],
    );
    assert.deepEqual(one, two);
    assert.ok(one[0].x.every(Number.isFinite));
    const evalLoader = new DataLoader(folder, {
      batchSize: 6,
      shuffle: false,
      pipeline: { ...pipeline, ops: pre.eval },
      seed: 0,
      workers: 2,
    });
    loaders.push(evalLoader);
    const [batch] = await collect(evalLoader, 0);
    assert.deepEqual(Array.from(batch.labels), [0, 0, 0, 1, 1, 1]);
  });

  it('a corrupt image fails the batch with an error naming the file', async () => {
    const root = makeFolder();
    const bad = join(root, 'dog', '1.JPG');
    writeFileSync(bad, new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2, 3]));
    const folder = await loadImageFolder(root);
    const pre = imagenetPreprocessing(32);
    const loader = new DataLoader(folder, {
      batchSize: 6,
      shuffle: false,
      pipeline: { ops: pre.eval, mean: pre.mean, std: pre.std, size: 32 },
      seed: 0,
      workers: 1,
    });
    loaders.push(loader);
    await assert.rejects(
      collect(loader, 0),
      (e: Error) => e.message.includes(bad) && /cannot decode JPEG/.test(e.message),
    );
  });
});
