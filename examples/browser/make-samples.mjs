/**
 * Writes samples/: the first test image of each Fashion-MNIST class, from the subset committed in
 * data/fashion-mnist-subset (MIT, Zalando SE), as 28x28 grayscale PNGs, and samples/index.json (file, label).
 * `node examples/browser/make-samples.mjs` reproduces the committed files.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import pngjs from 'pngjs';

const here = dirname(fileURLToPath(import.meta.url));
const data = join(here, '../../data/fashion-mnist-subset');
const CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

const images = gunzipSync(await readFile(join(data, 't10k-images-idx3-ubyte.gz'))).subarray(16);
const labels = gunzipSync(await readFile(join(data, 't10k-labels-idx1-ubyte.gz'))).subarray(8);
const out = join(here, 'samples');
await mkdir(out, { recursive: true });
const index = [];
for (let label = 0; label < CLASSES.length; label++) {
  const i = labels.indexOf(label);
  const png = new pngjs.PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, bitDepth: 8 });
  png.data = Buffer.from(images.subarray(i * 784, (i + 1) * 784));
  const file = `${label}-${CLASSES[label].toLowerCase().replace(/[^a-z]+/g, '-')}.png`;
  await writeFile(join(out, file), pngjs.PNG.sync.write(png, { colorType: 0, inputColorType: 0 }));
  index.push({ file, label: CLASSES[label], testIndex: i });
}
await writeFile(join(out, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
console.log(`wrote ${index.length} samples to ${out}`);
