import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { holdHeapTop, releaseArrayBuffers } from '../../src/util/release-buffers.js';

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

describe('holdHeapTop', () => {
  it('keeps released buffers in the heap: the next ones of the same sizes fault in (almost) no fresh pages', async (t) => {
    if (process.platform !== 'linux' || !process.report?.getReport) return t.skip('glibc behaviour');
    const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
    if (!header?.glibcVersionRuntime) return t.skip('not glibc');
    // 24 x 4 MB, as a training step's output copies: written (pages touched), then released.
    const pages = (24 * (4 << 20)) / 4096;
    // A released buffer's memory is freed with the dropped message, after this turn of the event loop.
    const cycle = async (hold: boolean): Promise<number> => {
      const before = process.resourceUsage().minorPageFault;
      const buffers = Array.from({ length: 24 }, () => {
        const buffer = new ArrayBuffer(4 << 20);
        new Uint8Array(buffer).fill(1);
        return buffer;
      });
      const faults = process.resourceUsage().minorPageFault - before;
      if (hold) holdHeapTop(4 << 20);
      releaseArrayBuffers(buffers);
      await new Promise((resolve) => setImmediate(resolve));
      return faults;
    };
    await cycle(false); // the first buffers of this size have mappings of their own; freeing them raises the threshold
    const unheld = await cycle(false);
    await cycle(true);
    const held = [await cycle(false), await cycle(false)];
    t.diagnostic(`fresh pages per cycle: ${unheld} without, ${held.join(', ')} with (of ${pages})`);
    assert.ok(unheld > pages / 2, `without the hold the heap is trimmed: ${unheld} of ${pages} pages fresh`);
    for (const faults of held) assert.ok(faults < pages / 20, `${faults} of ${pages} pages fresh`);
  });
});
