/**
 * Which emitter writes which model class. A new model family registers its emitter here (or calls
 * `registerOnnxEmitter`); `exportOnnx` refuses a model without one rather than guessing.
 */
import { CifarDenseNet } from '../../models/cifar/densenet.js';
import { CifarPreActResNet } from '../../models/cifar/preact-resnet.js';
import { CifarXception } from '../../models/cifar/xception.js';
import type { ClassifierModel } from '../../models/classifier.js';
import { MobileNetV2 } from '../../models/mobilenetv2.js';
import { RLAMobileNetV2 } from '../../models/mobilenetv2-rla.js';
import { ResNet } from '../../models/resnet.js';
import { RLAResNet } from '../../models/rla-resnet.js';
import { emitCifarDenseNet } from './cifar/densenet.js';
import { emitCifarPreActResNet } from './cifar/preact-resnet.js';
import { emitCifarXception } from './cifar/xception.js';
import type { ModelEmitter } from './emitter.js';
import { emitMobileNetV2 } from './mobilenetv2.js';
import { emitResNet } from './resnet.js';
import { emitRLAMobileNetV2 } from './rla-mobilenetv2.js';
import { emitRLAResNet } from './rla-resnet.js';

// biome-ignore lint/suspicious/noExplicitAny: constructors of any model class (their parameters differ).
type ModelClass<M extends ClassifierModel> = abstract new (...args: any[]) => M;

const emitters = new Map<ModelClass<ClassifierModel>, ModelEmitter>();

/** Registers the ONNX emitter of a model class (exact class; subclasses need their own entry). */
export function registerOnnxEmitter<M extends ClassifierModel>(
  type: ModelClass<M>,
  emit: ModelEmitter<M>,
): void {
  emitters.set(type, emit as ModelEmitter);
}

/** The emitter of `model`'s class; throws a clear error for a class nobody taught the exporter. */
export function onnxEmitterFor(model: ClassifierModel): ModelEmitter {
  const emit = emitters.get(model.constructor as ModelClass<ClassifierModel>);
  if (!emit) {
    throw new Error(
      `no ONNX emitter for ${model.constructor.name} (${model.registryName ?? 'unregistered model'}); ` +
        'add one under src/onnx/models/ and register it in src/onnx/models/index.ts',
    );
  }
  return emit;
}

registerOnnxEmitter(ResNet, emitResNet);
registerOnnxEmitter(RLAResNet, emitRLAResNet);
registerOnnxEmitter(MobileNetV2, emitMobileNetV2);
registerOnnxEmitter(RLAMobileNetV2, emitRLAMobileNetV2);
registerOnnxEmitter(CifarPreActResNet, emitCifarPreActResNet);
registerOnnxEmitter(CifarDenseNet, emitCifarDenseNet);
registerOnnxEmitter(CifarXception, emitCifarXception);
