/**
 * Worker-thread entry of the decode pool: reads image files, decodes, transforms and normalises them, and sends
 * the float32 samples back (transferred, not copied). Runs off the main thread so JPEG decoding overlaps training.
 */
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { decodeImage } from './decode.js';
import type { DecodeRequest, DecodeResponse } from './decode-pool.js';
import { prepareSample } from './sample-pipeline.js';

async function handle(request: DecodeRequest): Promise<DecodeResponse> {
  const { spec, files, seeds } = request;
  const out = new Float32Array(files.length * spec.size * spec.size * 3);
  try {
    for (let i = 0; i < files.length; i++) {
      const buffer = await readFile(files[i]).catch((error: Error) => {
        throw new Error(`cannot read image ${files[i]}: ${error.message}`);
      });
      const image = decodeImage(
        new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength),
        files[i],
      );
      prepareSample(image, seeds[i], spec, out, i, files[i]);
    }
    return { id: request.id, data: out };
  } catch (error) {
    return { id: request.id, error: (error as Error).message };
  }
}

parentPort?.on('message', (request: DecodeRequest) => {
  void handle(request).then((response) => {
    parentPort?.postMessage(response, response.data ? [response.data.buffer as ArrayBuffer] : []);
  });
});
