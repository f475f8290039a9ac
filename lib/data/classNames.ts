// Class names and input preprocessing constants of the datasets ConvMixers are trained on, for `convmixer predict`.
// The 1000 ImageNet-1k names come from imagenetClasses.json, generated from the npm package @tensorflow-models/mobilenet
// (Apache-2.0; dist/imagenet_classes.js), not typed by hand.
import { readFileSync } from 'node:fs';
import { CIFAR10_CLASSES } from './cifar10.ts';

/** torchvision / timm ImageNet normalization (timm's ConvMixer default_cfg). */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

let imagenet: string[] | null = null;

/** The 1000 ImageNet-1k class names in the standard index order ("tench, Tinca tinca", ..., "toilet tissue, ..."). */
export function imagenetClasses(): string[] {
  imagenet ??= (JSON.parse(readFileSync(new URL('./imagenetClasses.json', import.meta.url), 'utf8')) as { classes: string[] }).classes;
  return imagenet;
}

/** Names for a classifier's outputs: ImageNet for 1000 classes, CIFAR-10 for 10, else "class i". */
export function classNamesFor(numClasses: number): string[] {
  if (numClasses === 1000) return imagenetClasses();
  if (numClasses === 10) return CIFAR10_CLASSES;
  return Array.from({ length: numClasses }, (_, i) => `class ${i}`);
}
