/**
 * COCO-format datasets: an instances annotation JSON (`images`, `categories`, `annotations`) and the folder its
 * `file_name`s live in, e.g. `annotations/instances_val2017.json` + `val2017/`. Annotation files are untrusted
 * input: every field the evaluator uses is checked here, and errors name the file, the entry and the field.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { DatasetError } from '../../data/dataset.js';
import { decodeImage } from '../../data/decode.js';
import type { RawImage } from '../../data/image.js';
import { describeValue, printableText } from '../../util/bounded-text.js';
import type { XywhBox } from './iou.js';
import { rleFromPolygon, rleFromPolygons } from './polygon.js';
import { checkedRle, type Rle, rleArea, rleFromString } from './rle.js';

/** An entry of `images`. */
export interface CocoImage {
  id: number;
  fileName: string;
  width: number;
  height: number;
}

/** An entry of `categories`. */
export interface CocoCategory {
  id: number;
  name: string;
}

/** A segmentation as stored: polygons, or an RLE (compressed string counts or an uncompressed count list). */
export type CocoSegmentation = number[][] | { size: [number, number]; counts: string | number[] };

/** An entry of `annotations` (a ground-truth object). */
export interface CocoAnnotation {
  id: number;
  imageId: number;
  categoryId: number;
  bbox: XywhBox;
  /** The stored `area` (the object's mask area in COCO); the box area when the file has none. */
  area: number;
  iscrowd: boolean;
  segmentation?: CocoSegmentation;
}

/** A parsed annotation file; `imageDir` is where `fileName`s resolve. */
export interface CocoDataset {
  source: string;
  imageDir: string;
  images: CocoImage[];
  categories: CocoCategory[];
  annotations: CocoAnnotation[];
  imagesById: Map<number, CocoImage>;
}

/** Where a dataset's files are: the annotation JSON and the image folder. */
export interface CocoPaths {
  annotations: string;
  images: string;
}

/** The standard layout under a root: `annotations/instances_<split>.json` and `<split>/`. */
export function cocoSplitPaths(root: string, split = 'val2017'): CocoPaths {
  return { annotations: join(root, 'annotations', `instances_${split}.json`), images: join(root, split) };
}

/** Reads and checks an annotation file; images are decoded later, one at a time ({@link readCocoImage}). */
export async function loadCocoDataset(paths: CocoPaths): Promise<CocoDataset> {
  let text: string;
  try {
    text = await readFile(paths.annotations, 'utf8');
  } catch (error) {
    throw new DatasetError(`cannot read COCO annotations ${paths.annotations}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DatasetError(`${paths.annotations}: not valid JSON (${(error as Error).message})`);
  }
  return parseCocoDataset(json, paths.annotations, paths.images);
}

/** Checks a parsed annotation JSON; `source` names it in errors. */
export function parseCocoDataset(json: unknown, source: string, imageDir: string): CocoDataset {
  const fail = (message: string): never => {
    throw new DatasetError(`${source}: ${message}`);
  };
  if (!isRecord(json)) fail(`expected a JSON object with images, categories and annotations`);
  const root = json as Record<string, unknown>;
  const list = (key: string): unknown[] => {
    const value = root[key];
    if (!Array.isArray(value)) fail(`"${key}" must be a list, got ${describeValue(value)}`);
    return value as unknown[];
  };

  const images = list('images').map((entry, i) => {
    const where = `images[${i}]`;
    const record = recordAt(entry, where, fail);
    const fileName = record.file_name;
    if (typeof fileName !== 'string' || fileName === '') fail(`${where}.file_name must be a file name`);
    checkRelativePath(fileName as string, `${where}.file_name`, fail);
    return {
      id: integerField(record, 'id', where, fail),
      fileName: fileName as string,
      width: integerField(record, 'width', where, fail, 1),
      height: integerField(record, 'height', where, fail, 1),
    };
  });
  const imagesById = uniqueIds(images, 'images', fail);

  const categories = list('categories').map((entry, i) => {
    const where = `categories[${i}]`;
    const record = recordAt(entry, where, fail);
    if (typeof record.name !== 'string') fail(`${where}.name must be a string`);
    return { id: integerField(record, 'id', where, fail), name: record.name as string };
  });
  const categoriesById = uniqueIds(categories, 'categories', fail);

  const annotations = list('annotations').map((entry, i): CocoAnnotation => {
    const where = `annotations[${i}]`;
    const record = recordAt(entry, where, fail);
    const imageId = integerField(record, 'image_id', where, fail);
    const categoryId = integerField(record, 'category_id', where, fail);
    if (!imagesById.has(imageId)) fail(`${where}.image_id ${imageId} is not in "images"`);
    if (!categoriesById.has(categoryId)) fail(`${where}.category_id ${categoryId} is not in "categories"`);
    const bbox = record.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(isFiniteNumber)) {
      fail(`${where}.bbox must be [x, y, width, height], got ${describeValue(bbox)}`);
    }
    const box = bbox as unknown as XywhBox;
    const area = record.area === undefined ? box[2] * box[3] : record.area;
    if (!isFiniteNumber(area)) fail(`${where}.area must be a number, got ${describeValue(record.area)}`);
    const iscrowd = record.iscrowd ?? 0;
    if (iscrowd !== 0 && iscrowd !== 1 && iscrowd !== true && iscrowd !== false) {
      fail(`${where}.iscrowd must be 0 or 1, got ${describeValue(iscrowd)}`);
    }
    const segmentation = record.segmentation;
    if (segmentation !== undefined) checkSegmentation(segmentation, `${where}.segmentation`, fail);
    return {
      id: integerField(record, 'id', where, fail),
      imageId,
      categoryId,
      bbox: box,
      area: area as number,
      iscrowd: iscrowd === 1 || iscrowd === true,
      segmentation: segmentation as CocoSegmentation | undefined,
    };
  });
  return { source, imageDir, images, categories, annotations, imagesById };
}

/** Path of an image's file. */
export function cocoImagePath(dataset: CocoDataset, image: CocoImage): string {
  return join(dataset.imageDir, image.fileName);
}

/** Decodes one image (RGB); its size must be the one the annotation file states. */
export async function readCocoImage(dataset: CocoDataset, image: CocoImage): Promise<RawImage> {
  const path = cocoImagePath(dataset, image);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new DatasetError(`cannot read image ${path} (image id ${image.id}): ${(error as Error).message}`);
  }
  const decoded = decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  if (decoded.width !== image.width || decoded.height !== image.height) {
    throw new DatasetError(
      `${path}: image is ${decoded.width}x${decoded.height}, but ${dataset.source} says ${image.width}x${image.height}`,
    );
  }
  return decoded;
}

/**
 * pycocotools `annToRLE`: a ground truth's mask. Polygons are rasterised and merged; an RLE keeps the size it
 * states (a size other than the image's then matches no detection, as in pycocotools). A polygon list whose first
 * entry has exactly four numbers is read as boxes, as pycocotools' `frPyObjects` does.
 */
export function annotationRle(dataset: CocoDataset, annotation: CocoAnnotation): Rle {
  const image = dataset.imagesById.get(annotation.imageId)!;
  const where = `${dataset.source}: annotation id ${annotation.id}`;
  const segmentation = annotation.segmentation;
  if (segmentation === undefined) throw new DatasetError(`${where} has no segmentation (needed for segm)`);
  if (Array.isArray(segmentation)) {
    if (segmentation.length === 0) throw new DatasetError(`${where} has an empty polygon list`);
    if (segmentation[0].length < 4) throw new DatasetError(`${where}: a polygon needs at least 3 points`);
    const polygons = segmentation[0].length === 4 ? segmentation.map(boxCorners) : segmentation;
    try {
      return polygons.length === 1
        ? rleFromPolygon(polygons[0], image.height, image.width)
        : rleFromPolygons(polygons, image.height, image.width);
    } catch (error) {
      throw new DatasetError(`${where}: ${(error as Error).message}`);
    }
  }
  const [height, width] = segmentation.size;
  return typeof segmentation.counts === 'string'
    ? rleFromString(segmentation.counts, height, width, where)
    : checkedRle(segmentation.counts, height, width, where);
}

/** The mask area of a ground truth (what COCO stores as `area` for polygon and RLE objects). */
export function annotationMaskArea(dataset: CocoDataset, annotation: CocoAnnotation): number {
  return rleArea(annotationRle(dataset, annotation));
}

/** maskApi `rleFrBbox`: a box as the polygon of its corners. */
function boxCorners([x, y, w, h]: readonly number[]): number[] {
  return [x, y, x, y + h, x + w, y + h, x + w, y];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function recordAt(entry: unknown, where: string, fail: (message: string) => never): Record<string, unknown> {
  if (!isRecord(entry)) fail(`${where} must be an object, got ${describeValue(entry)}`);
  return entry as Record<string, unknown>;
}

function integerField(
  record: Record<string, unknown>,
  key: string,
  where: string,
  fail: (message: string) => never,
  min = Number.MIN_SAFE_INTEGER,
): number {
  const value = record[key];
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    fail(`${where}.${key} must be an integer${min > 0 ? ` >= ${min}` : ''}, got ${describeValue(value)}`);
  }
  return value as number;
}

function uniqueIds<T extends { id: number }>(
  entries: T[],
  key: string,
  fail: (message: string) => never,
): Map<number, T> {
  const byId = new Map<number, T>();
  for (const entry of entries) {
    if (byId.has(entry.id)) fail(`"${key}" has id ${entry.id} twice`);
    byId.set(entry.id, entry);
  }
  return byId;
}

/** `file_name` must stay inside the image folder: no absolute paths, no `..`. */
function checkRelativePath(fileName: string, where: string, fail: (message: string) => never): void {
  const normalized = normalize(fileName);
  if (isAbsolute(fileName) || normalized === '..' || normalized.startsWith(`..${sep}`)) {
    fail(`${where} "${printableText(fileName)}" leaves the image folder`);
  }
}

/** Polygons (lists of at least 2 points) or an RLE object with a [height, width] size. */
function checkSegmentation(value: unknown, where: string, fail: (message: string) => never): void {
  if (Array.isArray(value)) {
    value.forEach((polygon, i) => {
      if (!Array.isArray(polygon) || polygon.length % 2 !== 0 || !polygon.every(isFiniteNumber)) {
        fail(`${where}[${i}] must be a polygon [x0, y0, x1, y1, ...], got ${describeValue(polygon)}`);
      }
    });
    return;
  }
  if (!isRecord(value)) fail(`${where} must be polygons or an RLE, got ${describeValue(value)}`);
  const { size, counts } = value as Record<string, unknown>;
  if (
    !Array.isArray(size) ||
    size.length !== 2 ||
    !size.every((s) => Number.isSafeInteger(s) && (s as number) > 0)
  ) {
    fail(`${where}.size must be [height, width], got ${describeValue(size)}`);
  }
  if (typeof counts !== 'string' && !(Array.isArray(counts) && counts.every(Number.isSafeInteger))) {
    fail(`${where}.counts must be a string or a list of run lengths, got ${describeValue(counts)}`);
  }
}
