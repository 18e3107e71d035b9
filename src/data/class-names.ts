/**
 * Class names of the datasets rla-net knows, in label order, and the label sets a pretrained configuration names
 * (`labelSet`). Browser-safe: data only.
 */
import { IMAGENET_CLASSES } from './imagenet-classes.js';

/** Fashion-MNIST class names, label order. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** MNIST class names (the digits). */
export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** CIFAR-10 class names, label order (used when `batches.meta.txt` is absent). */
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

/** Label sets by name, as pretrained configurations and classifiers refer to them. */
export const LABEL_SETS = {
  'imagenet-1k': IMAGENET_CLASSES,
  'fashion-mnist': FASHION_MNIST_CLASSES,
  mnist: MNIST_CLASSES,
  'cifar-10': CIFAR10_CLASSES,
} as const satisfies Record<string, readonly string[]>;

export type LabelSetName = keyof typeof LABEL_SETS;
