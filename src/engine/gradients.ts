/**
 * Registers TensorFlow.js's gradient functions.
 *
 * tfjs-core ships its gradient configs only as extension-less ESM files that Node cannot load; its Node bundle
 * registers none, so `tf.grad` fails on every op. The `@tensorflow/tfjs` umbrella registers them, but pulls in
 * webgl/converter/data (~300 MB). `@tensorflow/tfjs-layers` (same pinned version, only tfjs-core as a peer)
 * registers the complete set on import into tfjs's global gradient registry, so we import it for that side
 * effect alone and use nothing else from it.
 */
import '@tensorflow/tfjs-layers';
import { registerRlaKernels } from './kernels/register.js';

registerRlaKernels();
