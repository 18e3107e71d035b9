/** Loads every model family into the registry and re-exports the registry API. */
import './resnet-family.js';
import './cifar/cifar-family.js';
import './rla-ablations.js';
import './mobilenetv2-family.js';

export { createModel, getModelEntry, listModels, type ModelEntry, type ModelOptions } from './registry.js';
