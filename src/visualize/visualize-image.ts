/**
 * Everything `rla visualize` draws for one image: the input as the model sees it, per stage the mean |x| map and
 * the grid of h's channels, and Grad-CAM of a class on cat(x, h) of the last stage over the input.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { RawImage } from '../data/image.js';
import type { ClassifierModel } from '../models/classifier.js';
import { stageMaps } from './feature-maps.js';
import { type GradCamResult, gradCam } from './grad-cam.js';
import { channelGrid, heatmapImage, overlayHeatmap, zoomFor } from './pictures.js';

/** Side a stage's mean |x| map is enlarged to (at least), and one tile of h's grid. */
const MAP_SIDE = 224;
const TILE_SIDE = 56;

export interface ImageVisualization {
  /** Pictures by file stem: `input`, `stage{s}_x`, `stage{s}_h`, `gradcam`. */
  pictures: Map<string, RawImage>;
  gradCam: GradCamResult;
  /** The Grad-CAM map resized to the input, normalised to [0, 1], row-major. */
  camAtInput: Float32Array;
}

/**
 * The pictures of one image: `input` is the model's input as an image (after resize and crop) and `x` the same
 * image normalised, NHWC [1, H, W, 3]. `classIndex`: the class Grad-CAM explains (default: the predicted one).
 */
export function visualizeImage(
  model: ClassifierModel,
  x: tf.Tensor4D,
  input: RawImage,
  classIndex?: number,
): ImageVisualization {
  const pictures = new Map<string, RawImage>([['input', input]]);
  for (const { stage, meanAbsX, h } of stageMaps(model, x)) {
    pictures.set(`stage${stage}_x`, heatmapImage(meanAbsX, zoomFor(meanAbsX.width, MAP_SIDE)));
    if (h) pictures.set(`stage${stage}_h`, channelGrid(h, zoomFor(h.width, TILE_SIDE)));
  }
  const cam = gradCam(model, x, classIndex);
  const { picture, resized } = overlayHeatmap(input, cam.map);
  pictures.set('gradcam', picture);
  return { pictures, gradCam: cam, camAtInput: resized };
}
