import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readFileBytes, removeStaleTemporaryFiles, writeFileAtomic } from '../../src/weights/files-node.js';

describe('files-node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rla-files-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writeFileAtomic writes, replaces and leaves no temporary files', async () => {
    const p = join(dir, 'w.pth');
    await writeFileAtomic(p, Uint8Array.from([1, 2, 3]));
    assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
    await writeFileAtomic(p, Uint8Array.from([9]));
    assert.deepEqual([...readFileSync(p)], [9]);
    assert.deepEqual(readdirSync(dir), ['w.pth']);
    assert.deepEqual([...(await readFileBytes(p))], [9]);
  });

  it('a failed write keeps the old content and cleans up', async () => {
    // The target is a non-empty directory: rename fails after the temp file was fully written.
    const target = join(dir, 'busy');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'old');
    await assert.rejects(writeFileAtomic(target, Uint8Array.from([1])), /cannot write .*busy/);
    assert.equal(readFileSync(join(target, 'keep'), 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir).sort(), ['busy', 'w.pth']);
    await assert.rejects(
      writeFileAtomic(join(dir, 'missing-dir', 'x'), Uint8Array.from([1])),
      /cannot write/,
    );
  });

  it('removeStaleTemporaryFiles removes only our temporary files whose writer is gone', async () => {
    const staleDir = join(dir, 'stale');
    mkdirSync(staleDir);
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    const names = {
      stale: `.checkpoint.safetensors.${gone}.0123456789ab.tmp`,
      live: `.checkpoint.safetensors.${process.pid}.0123456789ab.tmp`,
      otherPattern: `.notes.${gone}.tmp`,
      userFile: 'checkpoint.safetensors.tmp',
      target: 'checkpoint.safetensors',
    };
    for (const name of Object.values(names)) writeFileSync(join(staleDir, name), 'x');
    assert.deepEqual(await removeStaleTemporaryFiles(staleDir), [names.stale]);
    const left = readdirSync(staleDir).sort();
    assert.deepEqual(left, [names.live, names.otherPattern, names.userFile, names.target].sort());
  });

  it('readFileBytes explains what is wrong', async () => {
    await assert.rejects(
      readFileBytes(join(dir, 'nope.pth')),
      /cannot read weights file .*nope\.pth: file not found/,
    );
    await assert.rejects(readFileBytes(dir), /is a directory/);
  });
});
