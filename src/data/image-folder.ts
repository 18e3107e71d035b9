/**
 * torchvision's `ImageFolder` layout (ImageNet's `train/` and `val/` directories): `root/<class>/.../<image>`.
 * Classes are the sorted subdirectory names (label = index); samples are every JPEG/PNG below each class
 * directory, in sorted path order, like torchvision's `make_dataset`.
 */
import { promises as fs } from 'node:fs';
import { extname, join } from 'node:path';
import { DatasetError, type FileDataset } from './dataset.js';

/** File extensions decoded by `decode.ts` (compared case-insensitively). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'] as const;

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else if (entry.isFile() || entry.isSymbolicLink()) files.push(path);
  }
  return files;
}

/** An ImageFolder dataset; `skipped` counts files without an image extension (ignored, as torchvision does). */
export interface ImageFolder extends FileDataset {
  readonly root: string;
  readonly skipped: number;
}

/** Scans `root` (class subdirectories) into a file dataset. Empty classes are an error naming them. */
export async function loadImageFolder(root: string): Promise<ImageFolder> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(root, { withFileTypes: true });
  } catch (error) {
    throw new DatasetError(`cannot read image folder ${root}: ${(error as Error).message}`);
  }
  const classNames = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  if (classNames.length === 0)
    throw new DatasetError(`${root}: no class subdirectories (expected root/<class>/<image>)`);
  const files: string[] = [];
  const labels: number[] = [];
  const empty: string[] = [];
  let skipped = 0;
  for (const [label, name] of classNames.entries()) {
    const all = await listFiles(join(root, name));
    const images = all.filter((f) =>
      (IMAGE_EXTENSIONS as readonly string[]).includes(extname(f).toLowerCase()),
    );
    skipped += all.length - images.length;
    if (images.length === 0) empty.push(name);
    for (const file of images) {
      files.push(file);
      labels.push(label);
    }
  }
  if (empty.length > 0) {
    throw new DatasetError(
      `${root}: no ${IMAGE_EXTENSIONS.join('/')} images for class(es) ${empty.join(', ')}`,
    );
  }
  const labelArray = Int32Array.from(labels);
  return {
    kind: 'files',
    root,
    skipped,
    length: files.length,
    classNames,
    label: (index) => labelArray[index],
    file: (index) => files[index],
  };
}
