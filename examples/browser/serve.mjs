/**
 * A static file server for the built demo page on the loopback address: the MIME types the page needs (`.wasm`
 * must be application/wasm for streaming compilation, `.mjs` a JavaScript type for module workers) and the
 * cross-origin isolation headers that let TF.js and onnxruntime-web use wasm threads (SharedArrayBuffer).
 * `node examples/browser/serve.mjs [DIR] [PORT]` (default examples/browser/dist, port 8080).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.css': 'text/css; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.pth': 'application/octet-stream',
};

/** Serves `root` on 127.0.0.1 (`port` 0: any free port); resolves to its URL and a close function. */
export async function serveDirectory(root, port = 0) {
  const base = resolve(root);
  const server = createServer(async (request, response) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cache-Control': 'no-store',
    };
    let path;
    try {
      path = decodeURIComponent(new URL(request.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      response.writeHead(400, { ...headers, 'Content-Type': 'text/plain' }).end('malformed URL');
      return;
    }
    const file = normalize(join(base, path.endsWith('/') ? `${path}index.html` : path));
    const found = file.startsWith(base + sep) && (await stat(file).catch(() => null))?.isFile();
    if (!found) {
      response.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    const type = MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    response.writeHead(200, { ...headers, 'Content-Type': type });
    createReadStream(file).pipe(response);
  });
  await new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', done);
  });
  const address = server.address();
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'dist');
  const { url } = await serveDirectory(root, Number(process.argv[3] ?? 8080));
  console.log(`serving ${root} at ${url} (Ctrl-C stops)`);
}
