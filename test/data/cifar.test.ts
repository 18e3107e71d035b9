import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCifar10, loadCifar100 } from '../../src/data/cifar.js';
import { DatasetError } from '../../src/data/dataset.js';
import { cifarRecords, pixel, tempDir, writeCifar10 } from './_files.js';

describe('CIFAR binary readers', () => {
  it('reads CIFAR-10 train (5 batches) and test, planes -> HWC, with class names', async () => {
    const dir = tempDir();
    writeCifar10(dir, 2, 3);
    const train = await loadCifar10(dir, 'train');
    const test = await loadCifar10(dir, 'test');
    assert.equal(train.length, 10);
    assert.equal(test.length, 3);
    assert.deepEqual(
      Array.from({ length: 10 }, (_, i) => train.label(i)),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.equal(train.classNames[3], 'cat');
    const image = train.image(7);
    assert.deepEqual([image.height, image.width, image.channels], [32, 32, 3]);
    for (const [y, x] of [
      [0, 0],
      [5, 17],
      [31, 31],
    ]) {
      const rgb = Array.from(image.data.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3));
      assert.deepEqual(rgb, [pixel(7, y, x, 0), pixel(7, y, x, 1), pixel(7, y, x, 2)]);
    }
    assert.equal(test.image(2).data[0], pixel(1002, 0, 0, 0));
  });

  it('reads CIFAR-100 fine and coarse labels', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'train.bin'),
      cifarRecords([
        [3, 99],
        [19, 0],
      ]),
    );
    writeFileSync(join(dir, 'test.bin'), cifarRecords([[7, 42]]));
    const fine = await loadCifar100(dir, 'train', 'fine');
    const coarse = await loadCifar100(dir, 'train', 'coarse');
    assert.deepEqual([fine.label(0), fine.label(1)], [99, 0]);
    assert.deepEqual([coarse.label(0), coarse.label(1)], [3, 19]);
    assert.equal(fine.classNames.length, 100);
    assert.equal((await loadCifar100(dir, 'test')).label(0), 42);
  });

  it('names the truncated file', async () => {
    const dir = tempDir();
    writeCifar10(dir);
    const path = join(dir, 'data_batch_3.bin');
    writeFileSync(path, cifarRecords([[1], [2]]).subarray(0, 3073 + 100));
    await assert.rejects(
      loadCifar10(dir, 'train'),
      (e: Error) => e instanceof DatasetError && e.message.includes(path) && /3173 bytes/.test(e.message),
    );
  });

  it('names the file and sample of an out-of-range label', async () => {
    const dir = tempDir();
    writeCifar10(dir);
    const path = join(dir, 'test_batch.bin');
    writeFileSync(path, cifarRecords([[1], [10]]));
    await assert.rejects(
      loadCifar10(dir, 'test'),
      (e: Error) => e.message.includes(path) && /label 10 of sample 1/.test(e.message),
    );
    const dir100 = tempDir();
    mkdirSync(dir100, { recursive: true });
    writeFileSync(join(dir100, 'train.bin'), cifarRecords([[20, 5]]));
    await assert.rejects(loadCifar100(dir100, 'train', 'coarse'), /label 20 of sample 0 is outside 0\.\.19/);
  });

  it('names a missing file', async () => {
    const dir = tempDir();
    await assert.rejects(
      loadCifar10(dir, 'test'),
      (e: Error) => e.message.includes(join(dir, 'test_batch.bin')) && /not found/.test(e.message),
    );
  });

  it('rejects a CIFAR-100 file read as CIFAR-10 (record size)', async () => {
    const dir = tempDir();
    for (let b = 1; b <= 5; b++) writeFileSync(join(dir, `data_batch_${b}.bin`), cifarRecords([[1, 2]]));
    await assert.rejects(loadCifar10(dir, 'train'), /not a whole number of 3073-byte CIFAR records/);
  });
});
