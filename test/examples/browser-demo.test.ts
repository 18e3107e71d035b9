/**
 * The demo page (examples/browser/) in headless Chromium: built with esbuild, served from 127.0.0.1, it must
 * classify committed Fashion-MNIST test images on TF.js wasm and on onnxruntime-web wasm with the same top-5 as
 * `rla predict` gives in Node: the default weights and sample, an image picked or dropped, a picked .pth. Chromium is the
 * system's (Debian `chromium`; `.ci/run` installs it); the screenshot is kept in dist/test-artifacts/.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { loadModelFile } from '../../src/checkpoint/model-file.js';
import { toPthBytes } from '../../src/checkpoint/save-checkpoint.js';
import { main } from '../../src/cli/main.js';
import { initBackend } from '../../src/engine/backend.js';
import { REPO_ROOT } from '../helpers/paths.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Without Chromium the suite is skipped on a developer's machine, never in CI (where `.ci/run` installs it). */
const SKIP =
  !existsSync(CHROMIUM) && !process.env.CI && `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
const DEMO = join(REPO_ROOT, 'examples', 'browser');
const WEIGHTS = join(DEMO, 'weights', 'fmnist-dsrla_mobilenetv2_k12.safetensors');
const SCREENSHOT = join(REPO_ROOT, 'dist', 'test-artifacts', 'browser-demo.png');
/** Each page step loads wasm, builds the model, exports ONNX and times both engines: seconds, not minutes. */
const STEP_TIMEOUT_MS = 60_000;

interface Prediction {
  label: string;
  index: number;
  probability: number;
}
interface DemoResult {
  image: string;
  weights: string;
  model: string;
  engines: Array<{ engine: string; backend: string; milliseconds: number; top: Prediction[] }>;
  maxLogitDifference: number;
  hidden: Array<{ name: string; height: number; width: number; channels: number }>;
}

/** `rla predict --json` on a sample: the top-5 the page must reproduce. */
async function predictInNode(image: string, weights = WEIGHTS): Promise<Prediction[]> {
  const printed: string[] = [];
  const code = await main(['predict', image, '--weights', weights, '--json', '--backend', 'wasm'], (line) =>
    printed.push(line),
  );
  assert.equal(code, 0, printed.join('\n'));
  const [result] = JSON.parse(printed.join('\n')) as Array<{
    top: Array<{ class: string; index: number; probability: number }>;
  }>;
  return result.top.map((p) => ({ label: p.class, index: p.index, probability: p.probability }));
}

/** Waits until the page has classified `image` with weights `weights` (or shows an error) and returns the result. */
async function resultFor(page: Page, image: string, weights: string): Promise<DemoResult> {
  await page.waitForFunction(
    `window.rlaDemo.state === 'error' || (window.rlaDemo.state === 'done' && window.rlaDemo.result.image === ${JSON.stringify(image)} && window.rlaDemo.result.weights === ${JSON.stringify(weights)})`,
    undefined,
    { timeout: STEP_TIMEOUT_MS },
  );
  const demo = (await page.evaluate('window.rlaDemo')) as { error: string | null; result: DemoResult };
  assert.equal(demo.error, null, `the page failed: ${demo.error}`);
  return demo.result;
}

/** Both engines give `expected`'s ranking and probabilities, and agree with each other. */
function assertMatchesNode(result: DemoResult, expected: Prediction[], label: string): void {
  assert.equal(
    expected[0].label,
    label,
    'the committed model classifies the committed sample correctly in Node',
  );
  assert.deepEqual(
    result.engines.map((e) => e.engine),
    ['tfjs', 'ort'],
  );
  for (const engine of result.engines) {
    assert.equal(engine.top[0].label, label, `${engine.engine} top-1`);
    assert.deepEqual(
      engine.top.map((p) => p.index),
      expected.map((p) => p.index),
      `${engine.engine} top-5 order`,
    );
    for (const [i, p] of engine.top.entries()) {
      assert.ok(
        Math.abs(p.probability - expected[i].probability) < 1e-4,
        `${engine.engine} ${p.label} probability`,
      );
    }
    assert.match(engine.backend, /wasm/);
    assert.ok(engine.milliseconds > 0 && Number.isFinite(engine.milliseconds), `${engine.engine} time`);
  }
  assert.ok(result.maxLogitDifference < 1e-3, `tfjs and ort logits differ by ${result.maxLogitDifference}`);
}

describe('browser demo page (headless Chromium)', {
  skip: SKIP,
}, () => {
  let browser: Browser;
  let page: Page;
  let server: { url: string; close(): Promise<void> };
  let outDir: string;
  const pageErrors: string[] = [];

  before(async () => {
    await initBackend({ backend: 'wasm' });
    outDir = await mkdtemp(join(tmpdir(), 'rla-demo-'));
    const { buildDemo } = await import(pathToFileURL(join(DEMO, 'build.mjs')).href);
    await buildDemo(outDir);
    const { serveDirectory } = await import(pathToFileURL(join(DEMO, 'serve.mjs')).href);
    server = await serveDirectory(outDir);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('classifies the default sample with the shipped weights on TF.js wasm and onnxruntime-web as rla predict does', async () => {
    const expected = await predictInNode(join(DEMO, 'samples', '0-t-shirt-top.png'));
    await page.goto(server.url);
    const result = await resultFor(page, '0-t-shirt-top.png', 'fmnist-dsrla_mobilenetv2_k12.safetensors');
    assertMatchesNode(result, expected, 'T-shirt/top');
    assert.equal(result.model, 'dsrla_mobilenetv2_k12');
    // One h map per stage, each k = 12 channels.
    assert.ok(result.hidden.length >= 4, JSON.stringify(result.hidden));
    assert.ok(result.hidden.every((h) => h.channels === 12));
    assert.equal(await page.locator('#hidden canvas').count(), result.hidden.length);
    assert.match((await page.locator('#agreement').textContent()) ?? '', /Both engines agree/);
    await mkdir(join(REPO_ROOT, 'dist', 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(pageErrors, []);
  });

  it('classifies an image picked with the file input', async () => {
    const image = join(DEMO, 'samples', '9-ankle-boot.png');
    const expected = await predictInNode(image);
    await page.locator('#image-file').setInputFiles(image);
    const result = await resultFor(page, '9-ankle-boot.png', 'fmnist-dsrla_mobilenetv2_k12.safetensors');
    assertMatchesNode(result, expected, 'Ankle boot');
  });

  it('classifies an image dropped on the page', async () => {
    const expected = await predictInNode(join(DEMO, 'samples', '7-sneaker.png'));
    // A drop event carrying the sample as a File, as a drag from the desktop delivers it.
    const dataTransfer = await page.evaluateHandle(`(async () => {
      const blob = await (await fetch('samples/7-sneaker.png')).blob();
      const transfer = new DataTransfer();
      transfer.items.add(new File([blob], '7-sneaker.png', { type: 'image/png' }));
      return transfer;
    })()`);
    await page.dispatchEvent('#drop', 'drop', { dataTransfer });
    const result = await resultFor(page, '7-sneaker.png', 'fmnist-dsrla_mobilenetv2_k12.safetensors');
    assertMatchesNode(result, expected, 'Sneaker');
  });

  it('loads a picked .pth weights file (the same model, saved for PyTorch) and classifies with it', async () => {
    const { model } = await loadModelFile(WEIGHTS);
    const pth = join(outDir, 'picked.pth');
    await writeFile(pth, toPthBytes(model, 'picked'));
    model.dispose();
    // A .pth has no stored preprocessing or labels: loadClassifier falls back to the registry's pretrained config
    // (ImageNet evaluation at 224x224) and "class i" names (ImageNet's 1000 labels do not fit 10 classes), as
    // rla predict does, so the two must still agree.
    // The page classifies its current image (the sneaker dropped above) with the new weights.
    const expected = await predictInNode(join(DEMO, 'samples', '7-sneaker.png'), pth);
    await page.locator('#weights-file').setInputFiles(pth);
    const result = await resultFor(page, '7-sneaker.png', 'picked.pth');
    assertMatchesNode(result, expected, expected[0].label);
    assert.match(result.engines[0].top[0].label, /^class \d$/);
    assert.deepEqual(pageErrors, []);
  });

  it('says which file is at fault when a picked weights file is not one', async () => {
    const broken = join(outDir, 'broken.safetensors');
    await writeFile(broken, 'not a weights file');
    await page.locator('#weights-file').setInputFiles(broken);
    await page.waitForFunction("window.rlaDemo.state === 'error'", undefined, { timeout: STEP_TIMEOUT_MS });
    const status = (await page.locator('#status').textContent()) ?? '';
    assert.match(status, /^error: broken\.safetensors: /);
    assert.deepEqual(pageErrors, []);
  });
});

describe('browser demo page sources', () => {
  it('type-check with the DOM library (esbuild bundles without checking types)', async () => {
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      await promisify(execFile)(process.execPath, [tsc, '-p', join(DEMO, 'tsconfig.json')], {
        cwd: REPO_ROOT,
      });
    } catch (error) {
      assert.fail(
        `tsc -p examples/browser/tsconfig.json found errors:\n${(error as { stdout?: string }).stdout}`,
      );
    }
  });
});
