/**
 * The demo page: pick or drop an image and a weights file (.safetensors / .pth), see the top-5 on TF.js wasm and
 * on onnxruntime-web wasm with the time per image, and each stage's RLA hidden state h. It starts with the
 * Fashion-MNIST weights and sample images the build copies beside it. `window.rlaDemo` holds the last result
 * (read by the browser test).
 */
import { type Classifier, countParams, loadClassifier } from 'rla-net';
import {
  type HiddenStateMap,
  type OrtModel,
  openOrtWasm,
  runOrt,
  runTfjs,
  startTfjsWasm,
} from './engines.js';

/** Files the build puts beside the page (see build.mjs). */
const DEFAULT_WEIGHTS = 'weights/fmnist-dsrla_mobilenetv2_k12.safetensors';
const SAMPLES_INDEX = 'samples/index.json';
const TFJS_ASSETS = new URL('tfjs/', location.href).href;
const ORT_ASSETS = new URL('ort/', location.href).href;
const TOP_K = 5;

interface Prediction {
  label: string;
  index: number;
  probability: number;
}

/** What one classification produced; kept on `window.rlaDemo.result`. */
export interface DemoResult {
  image: string;
  weights: string;
  model: string;
  inputSize: number;
  engines: Array<{ engine: string; backend: string; milliseconds: number; top: Prediction[] }>;
  /** Largest |logit difference| between the two engines. */
  maxLogitDifference: number;
  hidden: Array<{ name: string; height: number; width: number; channels: number }>;
}

declare global {
  interface Window {
    rlaDemo: {
      state: 'loading' | 'busy' | 'done' | 'error';
      result: DemoResult | null;
      error: string | null;
    };
  }
}
window.rlaDemo = { state: 'loading', result: null, error: null };

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let tfjsBackend = '';
let current: { classifier: Classifier; fileName: string; ort: OrtModel } | null = null;
let currentImage: { pixels: ImageData; name: string } | null = null;

function setState(state: Window['rlaDemo']['state'], message: string): void {
  window.rlaDemo.state = state;
  document.body.dataset.state = state;
  element('status').textContent = message;
}

/** Decoded pixels as stored in the file (no colour management, no alpha premultiplication), like `rla predict`. */
async function decodePixels(blob: Blob): Promise<ImageData> {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('no 2D canvas context');
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

function softmaxTop(logits: Float32Array, classNames: readonly string[]): Prediction[] {
  const max = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps
    .map((e, index) => ({ label: classNames[index] ?? `class ${index}`, index, probability: e / sum }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, TOP_K);
}

/** A weights file's classifier: model, stored (or pretrained-config) preprocessing and labels; errors name the file. */
async function openClassifier(bytes: Uint8Array, fileName: string): Promise<Classifier> {
  try {
    return await loadClassifier(bytes);
  } catch (error) {
    throw new Error(`${fileName}: ${(error as Error).message}`);
  }
}

async function useWeights(bytes: Uint8Array, fileName: string): Promise<void> {
  setState('busy', `loading ${fileName} ...`);
  const classifier = await openClassifier(bytes, fileName);
  const model = classifier.model!;
  const size = classifier.inputSize;
  try {
    const ort = await openOrtWasm(model, size, ORT_ASSETS);
    if (current) {
      await current.classifier.dispose();
      await current.ort.session.release();
    }
    current = { classifier, fileName, ort };
  } catch (error) {
    await classifier.dispose();
    throw error;
  }
  const { mean, std } = classifier.preprocessing;
  element('model').textContent =
    `${fileName}: ${model.registryName} ${JSON.stringify(model.registryOptions ?? {})}, ` +
    `${countParams(model).toLocaleString('en')} parameters, input ${size}x${size} ` +
    `(mean ${mean.join('/')}, std ${std.join('/')}), ${classifier.numClasses} classes, ` +
    `ONNX ${(current.ort.onnxBytes / 1e6).toFixed(2)} MB exported in the page`;
}

function drawImage(pixels: ImageData): void {
  const canvas = element<HTMLCanvasElement>('image');
  canvas.width = pixels.width;
  canvas.height = pixels.height;
  canvas.getContext('2d')?.putImageData(pixels, 0, 0);
}

/** Blue (low) to yellow (high) for t in 0..1. */
function ramp(t: number): [number, number, number, number] {
  return [Math.round(255 * t), Math.round(80 + 140 * t), Math.round(255 * (1 - t)), 255];
}

/**
 * Each stage's h averaged over its channels, scaled to its own min..max (one canvas per stage, the range in the
 * caption); a 1x1 map has no spatial contrast, so it is drawn mid-ramp with its value.
 */
function drawHiddenStates(maps: HiddenStateMap[]): void {
  const container = element('hidden');
  container.replaceChildren();
  for (const map of maps) {
    const figure = document.createElement('figure');
    const canvas = document.createElement('canvas');
    canvas.width = map.width;
    canvas.height = map.height;
    const pixels = new ImageData(map.width, map.height);
    const low = Math.min(...map.mean);
    const high = Math.max(...map.mean);
    for (const [i, v] of map.mean.entries())
      pixels.data.set(ramp(high > low ? (v - low) / (high - low) : 0.5), 4 * i);
    canvas.getContext('2d')?.putImageData(pixels, 0, 0);
    const caption = document.createElement('figcaption');
    const range = high > low ? `${low.toFixed(2)}..${high.toFixed(2)}` : `= ${low.toFixed(2)}`;
    caption.textContent = `${map.name} ${map.height}x${map.width}, k=${map.channels}, ${range}`;
    figure.append(canvas, caption);
    container.append(figure);
  }
}

function showEngine(id: string, engine: DemoResult['engines'][number]): void {
  const box = element(id);
  box.querySelector('.backend')!.textContent = engine.backend;
  box.querySelector('.time')!.textContent = `${engine.milliseconds.toFixed(2)} ms per image`;
  const list = box.querySelector('ol')!;
  list.replaceChildren(
    ...engine.top.map((p) => {
      const item = document.createElement('li');
      item.innerHTML = `<span class="label"></span><span class="bar"><span></span></span><span class="score"></span>`;
      item.querySelector('.label')!.textContent = `${p.label} (${p.index})`;
      (item.querySelector('.bar span') as HTMLElement).style.width = `${(100 * p.probability).toFixed(1)}%`;
      item.querySelector('.score')!.textContent = `${(100 * p.probability).toFixed(2)}%`;
      return item;
    }),
  );
}

async function classify(): Promise<void> {
  if (!current || !currentImage) return;
  const { classifier, fileName, ort } = current;
  setState('busy', `classifying ${currentImage.name} ...`);
  drawImage(currentImage.pixels);
  const size = classifier.inputSize;
  const x = await classifier.prepare(currentImage.pixels, currentImage.name);
  const tfjs = await runTfjs(classifier.model!, x, size);
  const onnx = await runOrt(ort, x, size);
  const result: DemoResult = {
    image: currentImage.name,
    weights: fileName,
    model: classifier.model!.registryName ?? 'model',
    inputSize: size,
    engines: [
      {
        engine: 'tfjs',
        backend: tfjsBackend,
        milliseconds: tfjs.milliseconds,
        top: softmaxTop(tfjs.logits, classifier.labels),
      },
      {
        engine: 'ort',
        backend: ort.backend,
        milliseconds: onnx.milliseconds,
        top: softmaxTop(onnx.logits, classifier.labels),
      },
    ],
    maxLogitDifference: Math.max(...tfjs.logits.map((v, i) => Math.abs(v - onnx.logits[i]))),
    hidden: tfjs.hidden.map(({ name, height, width, channels }) => ({ name, height, width, channels })),
  };
  showEngine('tfjs', result.engines[0]);
  showEngine('ort', result.engines[1]);
  drawHiddenStates(tfjs.hidden);
  const agree = result.engines[0].top[0].index === result.engines[1].top[0].index;
  element('agreement').textContent =
    `${agree ? 'Both engines agree' : 'The engines DISAGREE'} on the top-1; largest logit difference ${result.maxLogitDifference.toExponential(2)}`;
  window.rlaDemo.result = result;
  setState('done', `${currentImage.name} classified by ${result.model}`);
}

async function useImage(blob: Blob, name: string): Promise<void> {
  currentImage = { pixels: await decodePixels(blob), name };
  await classify();
}

/** Runs a step, showing its error on the page instead of losing it in the console. */
async function guarded(step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    window.rlaDemo.error = (error as Error).message;
    setState('error', `error: ${(error as Error).message}`);
  }
}

const isWeightsFile = (name: string) => /\.(safetensors|pth|pt|pth\.tar|tar|bin)$/i.test(name);

async function useFile(file: File): Promise<void> {
  if (isWeightsFile(file.name)) {
    await useWeights(new Uint8Array(await file.arrayBuffer()), file.name);
    await classify();
  } else {
    await useImage(file, file.name);
  }
}

async function fetchBlob(url: string): Promise<Blob> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.blob();
}

/** Sample buttons from the build's index (one Fashion-MNIST test image per class). */
async function showSamples(): Promise<Array<{ file: string; label: string }>> {
  const samples = JSON.parse(await (await fetchBlob(SAMPLES_INDEX)).text()) as Array<{
    file: string;
    label: string;
  }>;
  element('samples').replaceChildren(
    ...samples.map((sample) => {
      const button = document.createElement('button');
      button.title = sample.label;
      button.dataset.file = sample.file;
      const image = document.createElement('img');
      image.src = `samples/${sample.file}`;
      image.alt = sample.label;
      button.append(image);
      button.addEventListener('click', () =>
        guarded(async () => useImage(await fetchBlob(`samples/${sample.file}`), sample.file)),
      );
      return button;
    }),
  );
  return samples;
}

function wireInputs(): void {
  for (const id of ['weights-file', 'image-file']) {
    const input = element<HTMLInputElement>(id);
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      if (file) void guarded(() => useFile(file));
    });
  }
  const drop = element('drop');
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    const files = [...(event.dataTransfer?.files ?? [])].sort(
      (a, b) => Number(isWeightsFile(b.name)) - Number(isWeightsFile(a.name)),
    );
    void guarded(async () => {
      for (const file of files) await useFile(file);
    });
  });
}

void guarded(async () => {
  wireInputs();
  setState('loading', 'starting TF.js wasm ...');
  tfjsBackend = await startTfjsWasm(TFJS_ASSETS);
  const samples = await showSamples();
  const weights = await fetchBlob(DEFAULT_WEIGHTS);
  await useWeights(new Uint8Array(await weights.arrayBuffer()), DEFAULT_WEIGHTS.split('/').pop()!);
  const first = samples[0];
  await useImage(await fetchBlob(`samples/${first.file}`), first.file);
});
