/**
 * The images a classifier accepts, turned into a {@link RawImage} (8-bit RGB or gray, HWC) before preprocessing:
 * encoded bytes (JPEG/PNG), ImageData-like `{ data, width, height }` (RGBA, as canvases give), a RawImage, a TF.js
 * tensor of pixel values 0..255 (`[H, W, 3]` or `[1, H, W, 3]`), and in browsers anything a canvas can draw
 * (HTMLImageElement, ImageBitmap, HTMLCanvasElement, OffscreenCanvas, HTMLVideoElement, VideoFrame). File paths
 * are read by the Node entry's loader (`rla-net/node`), which passes `readFile`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RawImage } from '../data/image.js';

/** `ImageData` or anything shaped like it: RGBA bytes, row-major. */
export interface ImageDataLike {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/** A source a canvas can draw (typed structurally so this file needs no DOM types). */
export interface DrawableImage {
  readonly width: number;
  readonly height: number;
}

export type ImageInput =
  | string
  | Uint8Array
  | ArrayBuffer
  | ImageDataLike
  | RawImage
  | tf.Tensor
  | DrawableImage;

/** Decodes encoded image bytes (JPEG/PNG); `source` names the input in errors. */
export type ImageDecoder = (bytes: Uint8Array, source: string) => RawImage | Promise<RawImage>;

export interface ImageReaders {
  /** Decoder of encoded bytes (default: the browser's, through createImageBitmap and a canvas). */
  decode?: ImageDecoder;
  /** Reader of image files (given by the Node entry). */
  readFile?: (path: string) => Promise<Uint8Array>;
}

/** Largest image accepted from pixel inputs, in megapixels (the bound decodeImage applies to files). */
const MAX_MEGAPIXELS = 100;

function checkGeometry(width: number, height: number, source: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new Error(`${source}: image size ${width}x${height} is not a positive integer size`);
  if (width * height > MAX_MEGAPIXELS * 1e6)
    throw new Error(`${source}: ${width}x${height} is over ${MAX_MEGAPIXELS} megapixels`);
}

/** RGBA (or RGB) bytes of `width * height` pixels -> RGB RawImage (alpha dropped, as PIL's convert('RGB')). */
function fromImageData(image: ImageDataLike, source: string): RawImage {
  const { width, height, data } = image;
  checkGeometry(width, height, source);
  const pixels = width * height;
  if (data.length === pixels * 3) return { data: Uint8Array.from(data), width, height, channels: 3 };
  if (data.length !== pixels * 4)
    throw new Error(
      `${source}: ${data.length} bytes for ${width}x${height} pixels (expected RGBA: ${pixels * 4})`,
    );
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    rgb[3 * p] = data[4 * p];
    rgb[3 * p + 1] = data[4 * p + 1];
    rgb[3 * p + 2] = data[4 * p + 2];
  }
  return { data: rgb, width, height, channels: 3 };
}

/** A tensor of pixel values 0..255, `[H, W, C]` or `[1, H, W, C]` with C = 1 or 3 (rounded and clamped). */
async function fromTensor(tensor: tf.Tensor, source: string): Promise<RawImage> {
  const shape = tensor.rank === 4 && tensor.shape[0] === 1 ? tensor.shape.slice(1) : tensor.shape;
  const [height, width, channels] = shape;
  if (shape.length !== 3 || (channels !== 1 && channels !== 3))
    throw new Error(
      `${source}: expected a pixel tensor [H, W, 3] or [1, H, W, 3], got shape [${tensor.shape}]`,
    );
  checkGeometry(width, height, source);
  const values = await tensor.data();
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(Number(values[i]))));
  return { data, width, height, channels: channels as 1 | 3 };
}

interface Canvas2D {
  drawImage(image: unknown, x: number, y: number): void;
  getImageData(x: number, y: number, w: number, h: number): ImageDataLike;
}
type CanvasFactory = (width: number, height: number) => { getContext(kind: '2d'): Canvas2D | null };

/** A 2-D canvas of the given size: OffscreenCanvas (workers, modern browsers) or a DOM canvas; null in Node. */
function canvasFactory(): CanvasFactory | null {
  const scope = globalThis as unknown as {
    OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: '2d'): Canvas2D | null };
    document?: {
      createElement(tag: 'canvas'): {
        width: number;
        height: number;
        getContext(kind: '2d'): Canvas2D | null;
      };
    };
  };
  if (typeof scope.OffscreenCanvas === 'function') {
    const Offscreen = scope.OffscreenCanvas;
    return (width, height) => new Offscreen(width, height);
  }
  if (scope.document !== undefined) {
    const document = scope.document;
    return (width, height) => Object.assign(document.createElement('canvas'), { width, height });
  }
  return null;
}

/** Pixels of a drawable (HTMLImageElement: its natural size, not the displayed one), through a canvas. */
function fromDrawable(image: DrawableImage, source: string): RawImage {
  const create = canvasFactory();
  if (create === null)
    throw new Error(
      `${source}: image elements and bitmaps need a browser canvas; in Node pass bytes or a path`,
    );
  const sized = image as DrawableImage & { naturalWidth?: number; naturalHeight?: number };
  const width = sized.naturalWidth || sized.width;
  const height = sized.naturalHeight || sized.height;
  checkGeometry(width, height, source);
  const context = create(width, height).getContext('2d');
  if (context === null) throw new Error(`${source}: no 2-D canvas context available`);
  context.drawImage(image, 0, 0);
  return fromImageData(context.getImageData(0, 0, width, height), source);
}

/** Decodes bytes with the browser's decoders (createImageBitmap), or fails naming what to do instead. */
async function browserDecode(bytes: Uint8Array, source: string): Promise<RawImage> {
  const scope = globalThis as unknown as {
    createImageBitmap?: (blob: Blob) => Promise<DrawableImage & { close(): void }>;
  };
  if (typeof scope.createImageBitmap !== 'function' || canvasFactory() === null)
    throw new Error(`${source}: decoding image bytes needs a browser (createImageBitmap) or rla-net/node`);
  const bitmap = await scope.createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  try {
    return fromDrawable(bitmap, source);
  } finally {
    bitmap.close();
  }
}

function isRawImage(value: object): value is RawImage {
  return 'data' in value && 'channels' in value && (value.channels === 1 || value.channels === 3);
}

/** `input` as a RawImage; `source` names it in errors. */
export async function toRawImage(
  input: ImageInput,
  readers: ImageReaders,
  source = 'image',
): Promise<RawImage> {
  if (typeof input === 'string') {
    if (!readers.readFile)
      throw new Error(
        `${input}: file paths need rla-net/node; in browsers pass bytes, ImageData or an image`,
      );
    return toRawImage(await readers.readFile(input), readers, input);
  }
  if (input instanceof ArrayBuffer) return toRawImage(new Uint8Array(input), readers, source);
  if (input instanceof Uint8Array) return (readers.decode ?? browserDecode)(input, source);
  if (input instanceof tf.Tensor) return fromTensor(input, source);
  if (typeof input !== 'object' || input === null)
    throw new Error(`${source}: not an image (${typeof input})`);
  if (isRawImage(input)) {
    checkGeometry(input.width, input.height, source);
    if (input.data.length !== input.width * input.height * input.channels)
      throw new Error(
        `${source}: ${input.data.length} bytes for a ${input.width}x${input.height}x${input.channels} image`,
      );
    return input;
  }
  if ('data' in input) return fromImageData(input as ImageDataLike, source);
  if ('width' in input && 'height' in input) return fromDrawable(input, source);
  throw new Error(
    `${source}: not an image (expected bytes, ImageData, an image element, a tensor or a path)`,
  );
}
