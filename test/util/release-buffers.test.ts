import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { releaseArrayBuffers } from '../../src/util/release-buffers.js';

describe('releaseArrayBuffers', () => {
  it('detaches each buffer (its memory goes with a dropped message), a buffer listed twice included', () => {
    const a = new Float32Array(1024).fill(1);
    const b = new ArrayBuffer(16);
    releaseArrayBuffers([a.buffer, b, a.buffer]);
    assert.equal(a.buffer.byteLength, 0);
    assert.equal(a.length, 0);
    assert.equal(b.byteLength, 0);
    releaseArrayBuffers([]);
    const c = new ArrayBuffer(8);
    releaseArrayBuffers([c]); // the sink port is reused
    assert.equal(c.byteLength, 0);
  });
});
