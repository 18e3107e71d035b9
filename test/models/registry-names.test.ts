import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listModels } from '../../src/models/index.js';

// dist/test/models/ -> the repository root, where the TypeScript sources are.
const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

function sourceTexts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceTexts(path);
    return entry.name.endsWith('.ts') ? [readFileSync(path, 'utf8')] : [];
  });
}

describe('model registry names', () => {
  it('spells every registered name literally in src/, so that grep finds where each model is defined', () => {
    const texts = sourceTexts(SRC);
    const missing = listModels().filter((name) => !texts.some((text) => text.includes(`'${name}'`)));
    assert.deepEqual(missing, []);
  });
});
