/**
 * Builds the demo page into a folder: main.ts bundled by esbuild for the browser (a `node:*` import anywhere in
 * what the page reaches fails the build), index.html, the wasm binaries of TF.js and onnxruntime-web, the default
 * weights and the sample images. `node examples/browser/build.mjs [OUT_DIR]` (default examples/browser/dist).
 */
import { cp, mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The wasm files the page loads at run time, from the installed packages. */
function runtimeFiles() {
  const tfjsDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  const ortDir = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  return [
    ...['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'].map(
      (name) => ({ from: join(tfjsDir, name), to: join('tfjs', name) }),
    ),
    // The wasm execution provider's Emscripten module and binary (the bundle loads them from ort/).
    ...['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'].map((name) => ({
      from: join(ortDir, name),
      to: join('ort', name),
    })),
  ];
}

/** Builds the page into `outDir` (emptied first). */
export async function buildDemo(outDir = join(here, 'dist')) {
  const out = resolve(outDir);
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  // platform 'browser': a `node:*` import anywhere the page reaches is an unresolvable module, a build error.
  await build({
    entryPoints: [join(here, 'main.ts')],
    outfile: join(out, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    // onnxruntime-web's build that loads its wasm module from ort/ instead of embedding it, so its worker
    // threads start from that module file rather than from this bundle.
    conditions: ['onnxruntime-web-use-extern-wasm'],
    logLevel: 'warning',
  });
  for (const { from, to } of runtimeFiles()) {
    await mkdir(dirname(join(out, to)), { recursive: true });
    await cp(from, join(out, to));
  }
  await cp(join(here, 'index.html'), join(out, 'index.html'));
  await cp(join(here, 'weights'), join(out, 'weights'), { recursive: true });
  await cp(join(here, 'samples'), join(out, 'samples'), { recursive: true });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ?? join(here, 'dist');
  await buildDemo(outDir);
  console.log(`demo page built in ${outDir}: serve it with node examples/browser/serve.mjs ${outDir}`);
}
