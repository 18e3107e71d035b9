/**
 * The browser entry (`rla-net`, src/browser.ts) bundles for browsers: esbuild with `platform: 'browser'` resolves
 * it with no Node built-in module left in the bundle. Third-party packages (tfjs) may name Node modules behind
 * run-time checks as long as their package.json `browser` field disables them; rla-net's own files may not.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { identityOf, toSafetensorsBytes } from '../../src/checkpoint/save-checkpoint.js';
import { loadClassifier } from '../../src/classify/load-node.js';
import { FASHION_MNIST_CLASSES } from '../../src/data/class-names.js';
import { mnistPreprocessing } from '../../src/data/preprocessing.js';
import { initBackend } from '../../src/engine/backend.js';
import type { ClassifierModel } from '../../src/models/classifier.js';
import { createModel } from '../../src/models/index.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { tempDir } from '../data/_files.js';
import { REPO_ROOT } from '../helpers/paths.js';

const BUILTINS = new Set(builtinModules);

function isNodeBuiltin(path: string): boolean {
  return path.startsWith('node:') || BUILTINS.has(path) || BUILTINS.has(path.split('/')[0]);
}

interface BundleReport {
  /** Node built-in imports: the module asked for and the file (relative to the repo) that asked. */
  builtinImports: Array<{ path: string; importer: string }>;
  /** Files that went into the bundle (esbuild's metafile input names). */
  inputs: string[];
  /** Imports the bundle leaves to the runtime (must be none for a self-contained browser bundle). */
  externalImports: string[];
  errors: string[];
}

/** Bundles `entry` (a compiled file under dist/) for browsers and reports what it imported. */
async function bundleForBrowser(entry: string): Promise<BundleReport> {
  const builtinImports: BundleReport['builtinImports'] = [];
  const recordBuiltins: esbuild.Plugin = {
    name: 'record-node-builtins',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (!args.path.startsWith('.') && isNodeBuiltin(args.path))
          builtinImports.push({ path: args.path, importer: relative(REPO_ROOT, args.importer) });
        return undefined; // resolution itself is esbuild's (package.json `browser` fields included)
      });
    },
  };
  try {
    const result = await esbuild.build({
      absWorkingDir: REPO_ROOT,
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [recordBuiltins],
    });
    const externalImports = Object.values(result.metafile.outputs).flatMap((output) =>
      output.imports.filter((i) => i.external).map((i) => i.path),
    );
    return { builtinImports, inputs: Object.keys(result.metafile.inputs), externalImports, errors: [] };
  } catch (error) {
    const failure = error as esbuild.BuildFailure;
    const errors = (failure.errors ?? []).map((e) => `${e.location?.file ?? '?'}: ${e.text}`);
    return { builtinImports, inputs: [], externalImports: [], errors };
  }
}

const OWN_FILES = /^dist\//;

describe('browser entry bundle', () => {
  it('package.json sends `rla-net` to the browser entry and `rla-net/node` to the Node entry, a superset', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    assert.deepEqual(pkg.exports['.'], { types: './dist/src/browser.d.ts', import: './dist/src/browser.js' });
    assert.deepEqual(pkg.exports['./node'], {
      types: './dist/src/index.d.ts',
      import: './dist/src/index.js',
    });
    const [nodeEntry, browserEntry] = await Promise.all([
      import('../../src/index.js'),
      import('../../src/browser.js'),
    ]);
    // The Node entry re-exports the browser one, except its own loadClassifier (paths, .onnx, ONNX Runtime).
    for (const name of Object.keys(browserEntry)) assert.ok(name in nodeEntry, `rla-net/node lacks ${name}`);
    assert.equal(nodeEntry.loadClassifier, loadClassifier);
    assert.notEqual(browserEntry.loadClassifier, loadClassifier);
  });

  it('bundles for platform browser with no Node built-in module in it', async () => {
    const report = await bundleForBrowser('dist/src/browser.js');
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.externalImports, []);
    const own = report.builtinImports.filter((i) => OWN_FILES.test(i.importer));
    assert.deepEqual(own, [], 'rla-net files of the browser entry import Node modules');
    // Every built-in a dependency names is replaced by an empty module (its `browser` field): none is bundled.
    const bundledBuiltins = report.inputs.filter((input) => isNodeBuiltin(input));
    assert.deepEqual(bundledBuiltins, []);
    for (const { path } of report.builtinImports) {
      const name = path.replace(/^node:/, '');
      assert.ok(report.inputs.includes(`(disabled):${name}`), `${path} is not disabled for browsers`);
    }
    // The bundle holds the models, weights readers and ONNX export, not only an empty shell.
    for (const file of [
      'dist/src/models/rla-resnet.js',
      'dist/src/weights/torch-checkpoint.js',
      'dist/src/onnx/export.js',
    ])
      assert.ok(report.inputs.includes(file), `${file} missing from the bundle`);
  });

  it('the same check catches the Node entry, which reads files', async () => {
    const report = await bundleForBrowser('dist/src/index.js');
    const own = report.builtinImports.filter((i) => OWN_FILES.test(i.importer)).map((i) => i.path);
    assert.ok(own.includes('node:fs/promises') || own.includes('node:fs'), `got ${own.join(', ')}`);
    assert.ok(report.errors.length > 0, 'esbuild should refuse node: imports for platform browser');
  });

  it('the bundle runs without Node: in a worker-like global with no `process`, it classifies and exports ONNX as the Node entry', async () => {
    await initBackend({ backend: 'cpu' });
    const folder = tempDir();
    await esbuild.build({
      absWorkingDir: REPO_ROOT,
      entryPoints: ['dist/src/browser.js'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      outfile: join(folder, 'rla-net.browser.mjs'),
      logLevel: 'silent',
    });
    // A small trained-style file (Fashion-MNIST preprocessing: 32x32 input), so the pure-JS cpu backend is quick.
    const model = createModel('rla_resnet50', {
      layers: [1, 1, 1, 1],
      widthPerGroup: 4,
      rlaChannel: 8,
      numClasses: 10,
      seed: 5,
    });
    const weights = toSafetensorsBytes(model, identityOf(model), {
      preprocessing: JSON.stringify(mnistPreprocessing()),
      classes: JSON.stringify(FASHION_MNIST_CLASSES),
    });
    model.dispose();
    writeFileSync(join(folder, 'weights.safetensors'), weights);
    const width = 40;
    const height = 30;
    const rgba = Uint8Array.from({ length: width * height * 4 }, (_, i) => (i * 37) % 251);
    writeFileSync(join(folder, 'image.rgba'), rgba);
    const driver = `
      import { readFileSync, writeFileSync } from 'node:fs';
      const weights = new Uint8Array(readFileSync('weights.safetensors'));
      const data = new Uint8ClampedArray(readFileSync('image.rgba'));
      const nodeProcess = globalThis.process;
      globalThis.process = undefined;                         // no Node ...
      globalThis.WorkerGlobalScope = function WorkerGlobalScope() {};  // ... but a web worker, to tfjs
      const rla = await import('./rla-net.browser.mjs');
      const backend = await rla.initBackend({ backend: 'cpu' });
      const classifier = await rla.loadClassifier(weights);
      const top = await classifier.classify({ data, width: ${width}, height: ${height} }, { topk: 3 });
      const onnx = rla.exportOnnx(classifier.model);
      globalThis.process = nodeProcess;
      writeFileSync('model.onnx', onnx);
      console.log(JSON.stringify({ backend, top }));
    `;
    writeFileSync(join(folder, 'driver.mjs'), driver);
    const { stdout } = await promisify(execFile)(process.execPath, ['driver.mjs'], { cwd: folder });
    const fromBundle = JSON.parse(stdout);
    assert.equal(fromBundle.backend, 'cpu');
    const classifier = await loadClassifier(weights);
    try {
      const expected = await classifier.classify({ data: rgba, width, height }, { topk: 3 });
      assert.deepEqual(fromBundle.top, expected);
      // ONNX export to bytes works there too, byte for byte as in Node.
      assert.deepEqual(
        new Uint8Array(readFileSync(join(folder, 'model.onnx'))),
        exportOnnx(classifier.model as ClassifierModel),
      );
      assert.ok(FASHION_MNIST_CLASSES.includes(expected[0].label as never));
    } finally {
      await classifier.dispose();
    }
  });
});
