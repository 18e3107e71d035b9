import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { currentBackend, initBackend } from '../../src/engine/backend.js';

describe('initBackend', () => {
  it('starts wasm in Node from the installed package (the lazily loaded locator)', async () => {
    assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
    assert.equal(currentBackend(), 'wasm');
  });

  for (const [name, packageName] of [
    ['webgl', '@tensorflow/tfjs-backend-webgl'],
    ['webgpu', '@tensorflow/tfjs-backend-webgpu'],
  ] as const) {
    it(`${name} without its package: an error saying which package to install`, async () => {
      await assert.rejects(
        initBackend({ backend: name }),
        new RegExp(`backend "${name}" could not be started \\(install ${packageName} and import it`),
      );
      assert.equal(currentBackend(), 'wasm', 'a failed request leaves the backend as it was');
    });
  }

  it('refuses an unknown backend, naming the choices', async () => {
    await assert.rejects(
      initBackend({ backend: 'metal' as never }),
      /unknown backend "metal": choose one of auto/,
    );
  });
});
