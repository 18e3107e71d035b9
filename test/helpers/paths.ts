/** Locations of the repo's test data, resolved from the compiled test file (dist/test/...). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('package.json not found above the test file');
    directory = parent;
  }
  return directory;
}

export const REPO_ROOT = findRepoRoot();
export const FIXTURES = join(REPO_ROOT, 'test', 'fixtures');
export const OFFICIAL_FIXTURES = join(FIXTURES, 'rla-official');

export function fixturePath(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}
