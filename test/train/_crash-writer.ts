/**
 * Child process of the atomic-save test: writes training checkpoints of the tiny model in a loop, alternating two
 * states (epoch 1 and epoch 2), and announces each write on stdout so the parent can SIGKILL it mid-write.
 *   node _crash-writer.js <checkpoint path>
 */
import { initBackend } from '../../src/engine/backend.js';
import {
  EMPTY_SUMS,
  saveTrainingCheckpoint,
  TRAINING_FORMAT_VERSION,
} from '../../src/train/training-checkpoint.js';
import { tinyConfig, tinyModel, tinySgd } from './_tiny.js';

const path = process.argv[2];
await initBackend({ backend: 'cpu' });
const config = tinyConfig();
const model = tinyModel(1);
const optimizer = tinySgd(model, config);
for (let i = 0; ; i++) {
  const epoch = 1 + (i % 2);
  process.stdout.write(`writing ${epoch}\n`);
  await saveTrainingCheckpoint(path, model, optimizer, {
    version: TRAINING_FORMAT_VERSION,
    config,
    epoch,
    batch: 0,
    sums: { ...EMPTY_SUMS },
    best: null,
    classNames: ['a', 'b', 'c', 'd'],
  });
  process.stdout.write(`wrote ${epoch}\n`);
}
