import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { saveModelFile } from '../../src/checkpoint/model-file.js';
import { main } from '../../src/cli/main.js';
import { initBackend } from '../../src/engine/backend.js';
import { rlaHome } from '../../src/hub/cache-dir.js';
import { cachePathOf, DownloadError, downloadToCache } from '../../src/hub/download.js';
import { fromPretrained } from '../../src/hub/from-pretrained.js';
import { createModel } from '../../src/models/index.js';
import { tempDir } from '../data/_files.js';
import { REPO_ROOT } from '../helpers/paths.js';

const BODY = new Uint8Array(100_000).map((_, i) => (i * 7919) % 251);
const SHA = createHash('sha256').update(BODY).digest('hex');
const WRONG = 'ab'.repeat(32);

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A server on the loopback address whose routes the tests set; counts requests per path. */
class TestServer {
  readonly requests = new Map<string, number>();
  readonly routes = new Map<string, Handler>();
  private server: Server | null = null;
  private port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = req.url ?? '/';
      this.requests.set(path, (this.requests.get(path) ?? 0) + 1);
      const route = this.routes.get(path);
      if (route) route(req, res);
      else res.writeHead(404, 'Not Found').end();
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  count(path: string): number {
    return this.requests.get(path) ?? 0;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

/** Serves `bytes` whole, with a Content-Length. */
const serve =
  (bytes: Uint8Array): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
  };

/** Sends half of `bytes`, then the rest once `release` is called (to hold a download in flight). */
function held(bytes: Uint8Array): { handler: Handler; release: () => void; started: Promise<void> } {
  let release = () => {};
  let markStarted = () => {};
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const handler: Handler = (_req, res) => {
    res.writeHead(200, { 'content-length': bytes.length });
    res.write(bytes.subarray(0, bytes.length >> 1));
    markStarted();
    void gate.then(() => res.end(bytes.subarray(bytes.length >> 1)));
  };
  return { handler, release: () => release(), started };
}

/** Every file under `dir` (lock files and temporary files included). */
function filesUnder(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => e.name)
    : [];
}

const RLA = join(REPO_ROOT, 'bin', 'rla.js');

describe('weights by URL: a checksummed download cache', () => {
  const server = new TestServer();
  before(() => server.start());
  after(() => server.stop());

  it('downloads once, verifies the sha256, then serves the cached file without a request', async () => {
    server.routes.set('/w/model.pth', serve(BODY));
    const cacheDir = tempDir('rla-hub-');
    const first = await downloadToCache(server.url('/w/model.pth'), { sha256: SHA.toUpperCase(), cacheDir });
    assert.equal(first.downloaded, true);
    assert.equal(first.sha256, SHA);
    assert.equal(first.path, join(cacheDir, SHA, 'model.pth'));
    assert.deepEqual(new Uint8Array(readFileSync(first.path)), BODY);
    const second = await downloadToCache(server.url('/w/model.pth'), { sha256: SHA, cacheDir });
    assert.deepEqual(second, { ...first, downloaded: false });
    assert.equal(server.count('/w/model.pth'), 1);
    assert.deepEqual(filesUnder(cacheDir), ['model.pth'], 'no lock or temporary file is left');
  });

  it('works offline from the cache: the server gone, and with offline set', async () => {
    const offlineServer = new TestServer();
    await offlineServer.start();
    offlineServer.routes.set('/model.safetensors', serve(BODY));
    const url = offlineServer.url('/model.safetensors');
    const cacheDir = tempDir('rla-hub-');
    await downloadToCache(url, { sha256: SHA, cacheDir });
    await offlineServer.stop();
    const cached = await downloadToCache(url, { sha256: SHA, cacheDir, offline: true });
    assert.equal(cached.downloaded, false);
    // Without a hash, the entry is keyed by the URL; an uncached URL offline is an error naming the cache path.
    await assert.rejects(
      downloadToCache(url, { cacheDir, offline: true }),
      (e: Error) =>
        e instanceof DownloadError &&
        e.message.includes('is not in the cache') &&
        e.message.includes(cacheDir),
    );
    await assert.rejects(downloadToCache(url, { cacheDir }), /cannot download .*nothing cached at/);
  });

  it('a truncated download is an error naming the bytes received and never lands in the cache', async () => {
    server.routes.set('/cut.pth', (_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length });
      res.write(BODY.subarray(0, 40_000), () => res.destroy());
    });
    const cacheDir = tempDir('rla-hub-');
    await assert.rejects(
      downloadToCache(server.url('/cut.pth'), { sha256: SHA, cacheDir }),
      (e: Error) => e instanceof DownloadError && /of 100000 bytes/.test(e.message),
    );
    assert.deepEqual(filesUnder(cacheDir), []);
  });

  it('a wrong hash names expected and actual and caches nothing', async () => {
    server.routes.set('/w/model.pth', serve(BODY));
    const cacheDir = tempDir('rla-hub-');
    await assert.rejects(
      downloadToCache(server.url('/w/model.pth'), { sha256: WRONG, cacheDir }),
      (e: Error) => {
        assert.ok(e instanceof DownloadError);
        assert.match(e.message, new RegExp(`sha256 mismatch .*expected ${WRONG}, got ${SHA}`));
        return true;
      },
    );
    assert.deepEqual(filesUnder(cacheDir), []);
    await assert.rejects(
      downloadToCache(server.url('/w/model.pth'), { sha256: 'abc', cacheDir }),
      /64 hex digits/,
    );
  });

  it('server errors and oversized files are errors that say so', async () => {
    server.routes.set('/error', (_req, res) => res.writeHead(500, 'Internal Server Error').end('boom'));
    server.routes.set('/chunked', (_req, res) => {
      res.writeHead(200);
      res.end(BODY);
    });
    const cacheDir = tempDir('rla-hub-');
    await assert.rejects(
      downloadToCache(server.url('/error'), { cacheDir }),
      /HTTP 500 Internal Server Error/,
    );
    await assert.rejects(downloadToCache(server.url('/missing.pth'), { cacheDir }), /HTTP 404 Not Found/);
    await assert.rejects(
      downloadToCache(server.url('/w/model.pth'), { cacheDir, maxBytes: 1000 }),
      /is 100000 bytes, more than the limit of 1000/,
    );
    // Without a Content-Length, the body is cut at the limit.
    await assert.rejects(
      downloadToCache(server.url('/chunked'), { cacheDir, maxBytes: 1000 }),
      /sent more than the limit of 1000 bytes/,
    );
    await assert.rejects(
      downloadToCache('ftp://example.org/x.pth', { cacheDir }),
      /ftp: URLs cannot be downloaded/,
    );
    assert.deepEqual(filesUnder(cacheDir), []);
  });

  it('concurrent downloads of one file in a process: one request, the others wait and reuse it', async () => {
    const slow = held(BODY);
    server.routes.set('/concurrent.pth', slow.handler);
    const cacheDir = tempDir('rla-hub-');
    let waiting = 0;
    const log = (message: string) => {
      if (message.startsWith('waiting for process')) waiting += 1;
      if (waiting === 2) slow.release();
    };
    const url = server.url('/concurrent.pth');
    const results = await Promise.all(
      [1, 2, 3].map(() => downloadToCache(url, { sha256: SHA, cacheDir, log })),
    );
    assert.equal(server.count('/concurrent.pth'), 1);
    assert.deepEqual(results.map((r) => r.downloaded).sort(), [false, false, true]);
    assert.equal(new Set(results.map((r) => r.path)).size, 1);
    assert.deepEqual(new Uint8Array(readFileSync(results[0].path)), BODY);
  });

  it('concurrent `rla download` processes: the second waits for the first and prints the same path', async () => {
    const slow = held(BODY);
    server.routes.set('/processes.pth', slow.handler);
    const cacheDir = tempDir('rla-hub-');
    const url = server.url('/processes.pth');
    const runCli = (onStderr?: (text: string) => void) => {
      const child = spawn(process.execPath, [RLA, 'download', url, '--sha256', SHA, '--dir', cacheDir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => {
        stdout += c;
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c;
        onStderr?.(stderr);
      });
      return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
        child.on('close', (code) => resolve({ code, stdout, stderr })),
      );
    };
    const first = runCli();
    await slow.started;
    const second = runCli((stderr) => {
      if (stderr.includes('waiting for process')) slow.release();
    });
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const path = join(cacheDir, SHA, 'processes.pth');
    assert.equal(a.stdout.trim(), path);
    assert.equal(b.stdout.trim(), path);
    assert.match(b.stderr, /waiting for process \d+, which is downloading processes\.pth/);
    assert.equal(server.count('/processes.pth'), 1);
    assert.deepEqual(filesUnder(cacheDir), ['processes.pth']);
  });

  it('a download killed mid-way leaves no file in the cache and does not block the next one', async () => {
    const slow = held(BODY);
    server.routes.set('/killed.pth', slow.handler);
    const cacheDir = tempDir('rla-hub-');
    const url = server.url('/killed.pth');
    const child = spawn(process.execPath, [RLA, 'download', url, '--sha256', SHA, '--dir', cacheDir], {
      stdio: 'ignore',
    });
    await slow.started;
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const target = cachePathOf(url, { sha256: SHA, cacheDir });
    assert.ok(!existsSync(target));
    assert.ok(existsSync(join(dirname(target), '.killed.pth.lock')), 'the killed process left its lock');
    server.routes.set('/killed.pth', serve(BODY));
    const file = await downloadToCache(url, { sha256: SHA, cacheDir });
    assert.equal(file.path, target);
    assert.deepEqual(filesUnder(cacheDir), ['killed.pth'], 'stale lock and temporary file removed');
  });

  it('fromPretrained builds the model from a URL through the safe .pth reader, and checks local files', async () => {
    await initBackend({ backend: 'cpu' });
    const dir = tempDir('rla-hub-weights-');
    const model = createModel('rla_resnet50', {
      layers: [1, 1, 1, 1],
      widthPerGroup: 2,
      rlaChannel: 4,
      numClasses: 3,
      seed: 5,
    });
    const file = join(dir, 'tiny.pth');
    await saveModelFile(model, file);
    const bytes = new Uint8Array(readFileSync(file));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    server.routes.set('/models/tiny.pth', serve(bytes));
    const cacheDir = tempDir('rla-hub-');
    const before = tf.memory().numTensors;
    const loaded = await fromPretrained(server.url('/models/tiny.pth'), {
      sha256,
      cacheDir,
      model: 'rla_resnet50',
      options: { layers: [1, 1, 1, 1], widthPerGroup: 2, rlaChannel: 4, numClasses: 3 },
    });
    const key = 'fc.weight';
    const expected = model.stateDict().get(key);
    const actual = loaded.model.stateDict().get(key);
    assert.ok(expected && actual);
    assert.deepEqual(await actual.data(), await expected.data());
    loaded.model.dispose();
    assert.equal(tf.memory().numTensors, before);
    model.dispose();
    await assert.rejects(
      fromPretrained(file, { sha256: WRONG }),
      new RegExp(`sha256 mismatch for .*tiny\\.pth: expected ${WRONG}, got ${sha256}`),
    );
  });

  it('--weights URL on the CLI: rla predict downloads once into RLA_HOME and prints what the local file gives', async () => {
    await initBackend({ backend: 'cpu' });
    const dir = tempDir('rla-hub-cli-');
    const spec = { layers: [1, 1, 1, 1], widthPerGroup: 2, rlaChannel: 4, numClasses: 3, seed: 7 };
    const model = createModel('rla_resnet50', spec);
    const file = join(dir, 'tiny.safetensors');
    await saveModelFile(model, file);
    model.dispose();
    const bytes = new Uint8Array(readFileSync(file));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    server.routes.set('/cli/tiny.safetensors', serve(bytes));
    const url = server.url('/cli/tiny.safetensors');
    const image = join(REPO_ROOT, 'test', 'fixtures', 'classify', 'photo.png');
    const predict = async (weights: string, extra: string[] = []) => {
      const lines: string[] = [];
      const code = await main(['predict', image, '--weights', weights, '--json', ...extra], (l) =>
        lines.push(l),
      );
      return { code, output: lines.join('\n') };
    };
    const home = process.env.RLA_HOME;
    process.env.RLA_HOME = tempDir('rla-home-');
    try {
      const local = await predict(file);
      assert.equal(local.code, 0);
      const first = await predict(url, ['--weights-sha256', sha256]);
      const second = await predict(url, ['--weights-sha256', sha256]);
      assert.equal(first.code, 0);
      assert.equal(first.output, local.output);
      assert.equal(second.output, local.output);
      assert.equal(server.count('/cli/tiny.safetensors'), 1, 'the second run reads the cache');
      assert.ok(existsSync(join(process.env.RLA_HOME, 'weights', sha256, 'tiny.safetensors')));
      // A wrong hash: exit 1, nothing printed; the same check applies to a local file.
      assert.equal((await predict(url, ['--weights-sha256', WRONG])).code, 1);
      assert.equal((await predict(file, ['--weights-sha256', WRONG])).code, 1);
    } finally {
      if (home === undefined) delete process.env.RLA_HOME;
      else process.env.RLA_HOME = home;
    }
  });

  it('rla download prints the cached path; a wrong hash exits 1 with the message', async () => {
    server.routes.set('/w/model.pth', serve(BODY));
    const cacheDir = tempDir('rla-hub-');
    const lines: string[] = [];
    const code = await main(
      ['download', server.url('/w/model.pth'), '--sha256', SHA, '--dir', cacheDir],
      (l) => lines.push(l),
    );
    assert.equal(code, 0);
    assert.deepEqual(lines, [join(cacheDir, SHA, 'model.pth')]);
    assert.equal(
      await main(
        ['download', server.url('/w/model.pth'), '--sha256', WRONG, '--dir', tempDir('rla-hub-')],
        () => {},
      ),
      1,
    );
    assert.equal(await main(['download'], () => {}), 2);
  });

  it('the cache root is RLA_HOME, else $XDG_CACHE_HOME/rla-net, else ~/.cache/rla-net', () => {
    assert.equal(rlaHome({ RLA_HOME: '/data/rla', XDG_CACHE_HOME: '/x' }), '/data/rla');
    assert.equal(rlaHome({ XDG_CACHE_HOME: '/x' }), '/x/rla-net');
    assert.match(rlaHome({}), /\.cache\/rla-net$/);
  });
});
