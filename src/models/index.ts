/** Loads every model family into the registry and re-exports the registry API. */
import './resnet-family.js';

export { createModel, getModelEntry, listModels, type ModelEntry, type ModelOptions } from './registry.js';
