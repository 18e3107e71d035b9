import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImageArray, subset, trainValSplit } from '../../src/data/dataset.js';
import { type Batch, DataLoader } from '../../src/data/loader.js';
import { cifarPreprocessing, mnistPreprocessing } from '../../src/data/preprocessing.js';

function dataset(count: number, size = 32, channels: 1 | 3 = 3): ImageArray {
  const images = Uint8Array.from(
    { length: count * size * size * channels },
    (_, i) => (i * 31 + (i >> 7)) % 256,
  );
  const labels = Uint8Array.from({ length: count }, (_, n) => n % 10);
  return new ImageArray(
    images,
    labels,
    size,
    size,
    channels,
    Array.from({ length: 10 }, (_, i) => `c${i}`),
  );
}

async function collect(loader: DataLoader, epoch: number, start = 0): Promise<Batch[]> {
  const batches: Batch[] = [];
  for await (const batch of loader.epoch(epoch, start)) batches.push(batch);
  return batches;
}

const cifar = cifarPreprocessing();
const trainPipeline = { ops: cifar.train, mean: cifar.mean, std: cifar.std, size: 32 };

describe('data loader', () => {
  it('yields NHWC float32 batches covering every sample once per epoch (last batch partial)', async () => {
    const loader = new DataLoader(dataset(23), {
      batchSize: 8,
      shuffle: true,
      pipeline: trainPipeline,
      seed: 1,
    });
    assert.equal(loader.batchesPerEpoch, 3);
    const batches = await collect(loader, 0);
    assert.deepEqual(
      batches.map((b) => b.size),
      [8, 8, 7],
    );
    assert.equal(batches[0].x.length, 8 * 32 * 32 * 3);
    const order = loader.order(0);
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      Array.from({ length: 23 }, (_, i) => i),
    );
    assert.deepEqual(
      Array.from(batches[1].labels),
      Array.from(order.subarray(8, 16), (i) => i % 10),
    );
    const dropping = new DataLoader(dataset(23), {
      batchSize: 8,
      shuffle: true,
      dropLast: true,
      pipeline: trainPipeline,
      seed: 1,
    });
    assert.equal(dropping.batchesPerEpoch, 2);
  });

  it('is deterministic: same seed and epoch give identical batches; epochs differ', async () => {
    const make = () =>
      new DataLoader(dataset(20), { batchSize: 6, shuffle: true, pipeline: trainPipeline, seed: 7 });
    const a = await collect(make(), 2);
    const b = await collect(make(), 2);
    assert.deepEqual(a, b);
    const c = await collect(make(), 3);
    assert.notDeepEqual(a[0].labels, c[0].labels);
  });

  it('starting an epoch at batch k gives exactly the batches k.. of a full pass (resume)', async () => {
    const loader = new DataLoader(dataset(20), {
      batchSize: 6,
      shuffle: true,
      pipeline: trainPipeline,
      seed: 7,
      prefetch: 3,
    });
    const full = await collect(loader, 1);
    const tail = await collect(loader, 1, 2);
    assert.deepEqual(tail, full.slice(2));
  });

  it('evaluation loaders keep dataset order and apply no augmentation', async () => {
    const data = dataset(5);
    const loader = new DataLoader(data, {
      batchSize: 5,
      shuffle: false,
      pipeline: { ...trainPipeline, ops: cifar.eval },
      seed: 0,
    });
    const [batch] = await collect(loader, 0);
    assert.deepEqual(Array.from(batch.labels), [0, 1, 2, 3, 4]);
    const v = data.image(2).data[7];
    assert.equal(
      batch.x[2 * 32 * 32 * 3 + 7],
      Math.fround(Math.fround(Math.fround(v / 255) - Math.fround(cifar.mean[1])) / Math.fround(cifar.std[1])),
    );
  });

  it('grayscale 28x28 images become 3-channel 32x32 model input', async () => {
    const fashion = mnistPreprocessing();
    const data = dataset(3, 28, 1);
    const loader = new DataLoader(data, {
      batchSize: 3,
      shuffle: false,
      pipeline: { ops: fashion.eval, mean: fashion.mean, std: fashion.std, size: 32 },
      seed: 0,
    });
    const [batch] = await collect(loader, 0);
    assert.equal(batch.x.length, 3 * 32 * 32 * 3);
    const at = (n: number, y: number, x: number, c: number) => batch.x[((n * 32 + y) * 32 + x) * 3 + c];
    assert.equal(at(1, 10, 10, 0), at(1, 10, 10, 2));
    const zero = Math.fround(Math.fround(0 - Math.fround(fashion.mean[0])) / Math.fround(fashion.std[0]));
    assert.equal(at(0, 0, 0, 0), zero, 'the 2-pixel border is zero padding');
    const v = data.image(1).data[8 * 28 + 8];
    assert.equal(
      at(1, 10, 10, 1),
      Math.fround(
        Math.fround(Math.fround(v / 255) - Math.fround(fashion.mean[1])) / Math.fround(fashion.std[1]),
      ),
    );
  });

  it('splits 45k/5k style: disjoint, complete, seeded', () => {
    const { train, val } = trainValSplit(50, 5, 3);
    assert.equal(train.length, 45);
    assert.equal(val.length, 5);
    assert.deepEqual(
      [...train, ...val].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.deepEqual(trainValSplit(50, 5, 3).val, val);
    assert.notDeepEqual(trainValSplit(50, 5, 4).val, val);
    const picked = subset(dataset(50), val);
    assert.equal(picked.label(0), val[0] % 10);
    assert.throws(() => trainValSplit(10, 10, 0), /validation size/);
  });
});
