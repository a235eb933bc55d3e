import { InputError } from '../errors.ts';
import { IMAGENET_MEAN, IMAGENET_STD } from '../preprocess/preprocess.ts';
import type { CnnEncoderConfig, CnnEncoderKind, PreprocessConfig } from '../types.ts';

/**
 * What a CNN encoder is, as configuration only: its kinds, stages, widths, normalisation and the `-e` spec syntax.
 * No tfjs here, so manifests can be parsed where no model runs (a page's main thread).
 */

export const MOBILENETV2_STAGES = ['expanded_conv', 'block_1', 'block_2', 'block_3', 'block_4', 'block_5', 'block_6', 'block_7', 'block_8', 'block_9', 'block_10'] as const;
export type MobileNetV2Stage = (typeof MOBILENETV2_STAGES)[number];

/** nsfwjs's MobileNetV2 takes pixels / 255: no mean or std. */
export const NSFWJS_MEAN: [number, number, number] = [0, 0, 0];
export const NSFWJS_STD: [number, number, number] = [1, 1, 1];

export type ResNetKind = 'resnet18' | 'resnet50' | 'wide_resnet50_2';
export type ResNetStage = 'layer1' | 'layer2' | 'layer3' | 'layer4';
export const RESNET_STAGES: readonly ResNetStage[] = ['layer1', 'layer2', 'layer3', 'layer4'];

export const CNN_KINDS: readonly CnnEncoderKind[] = ['resnet18', 'resnet50', 'wide_resnet50_2', 'nsfwjs-mobilenetv2'];
const RESNET_KINDS: readonly string[] = ['resnet18', 'resnet50', 'wide_resnet50_2'];

/** Stage names each kind offers, shallow first. */
export function stagesOf(kind: CnnEncoderKind): readonly string[] {
  return kind === 'nsfwjs-mobilenetv2' ? MOBILENETV2_STAGES : RESNET_STAGES;
}

/** Default stages: PatchCore's layer2+layer3 for the ResNets; for MobileNetV2 the blocks at strides 4, 8, 16. */
export function defaultStages(kind: CnnEncoderKind): string[] {
  return kind === 'nsfwjs-mobilenetv2' ? ['block_2', 'block_5', 'block_9'] : ['layer2', 'layer3'];
}

/**
 * Default stages of an INP-Former trained on a CNN: a ResNet's layer2 alone (ResNet-18: 128 channels; a step's
 * cost grows with the square of the width, and layer2+layer3's 384 would not train in minutes on 2 cores), the
 * MobileNetV2's default blocks (120 channels).
 */
export function defaultTrainStages(kind: CnnEncoderKind): string[] {
  return kind === 'nsfwjs-mobilenetv2' ? defaultStages(kind) : ['layer2'];
}

/** Channels of each stage's output (torchvision / Keras definitions). */
const CHANNELS: Record<CnnEncoderKind, Record<string, number>> = {
  resnet18: { layer1: 64, layer2: 128, layer3: 256, layer4: 512 },
  resnet50: { layer1: 256, layer2: 512, layer3: 1024, layer4: 2048 },
  wide_resnet50_2: { layer1: 256, layer2: 512, layer3: 1024, layer4: 2048 },
  'nsfwjs-mobilenetv2': {
    expanded_conv: 16, block_1: 24, block_2: 24, block_3: 32, block_4: 32, block_5: 32, block_6: 64, block_7: 64, block_8: 64, block_9: 64, block_10: 96,
  },
};

/** Token width: the sum of the chosen stages' channels. */
export function cnnTokenDim(c: CnnEncoderConfig): number {
  return c.layers.reduce((s, l) => s + CHANNELS[c.kind][l], 0);
}

/** Pixel normalisation each encoder was trained with: ImageNet statistics, or nsfwjs's pixels / 255. */
export function encoderNormalisation(kind: CnnEncoderKind): { mean: [number, number, number]; std: [number, number, number] } {
  return kind === 'nsfwjs-mobilenetv2' ? { mean: NSFWJS_MEAN, std: NSFWJS_STD } : { mean: IMAGENET_MEAN, std: IMAGENET_STD };
}

/** CNN encoders default to PatchCore's 224×224 squash: the resolution the ImageNet CNNs were trained at. */
export function cnnPreprocess(kind: CnnEncoderKind, size = 224): PreprocessConfig {
  return { protocol: 'official', resize: size, crop: size, mapSize: size, ...encoderNormalisation(kind) };
}

/** Checks a config that came from a manifest or the command line; errors name `where`. */
export function validateCnnEncoderConfig(c: unknown, where: string): asserts c is CnnEncoderConfig {
  const o = c as Partial<CnnEncoderConfig> | null;
  if (!o || typeof o !== 'object') throw new InputError(`${where}: encoder`, 'must be an object');
  if (!CNN_KINDS.includes(o.kind as CnnEncoderKind)) throw new InputError(`${where}: encoder.kind`, `must be one of ${CNN_KINDS.join(', ')}, got ${JSON.stringify(o.kind)}`);
  const stages = stagesOf(o.kind as CnnEncoderKind);
  if (!Array.isArray(o.layers) || !o.layers.length || o.layers.some((l) => !stages.includes(l))) {
    throw new InputError(`${where}: encoder.layers`, `must be a non-empty list among ${stages.join(', ')}, got ${JSON.stringify(o.layers)}`);
  }
  if (typeof o.localAverage !== 'boolean') throw new InputError(`${where}: encoder.localAverage`, 'must be true or false');
  if (o.grid !== undefined && !(Number.isSafeInteger(o.grid) && o.grid > 0)) throw new InputError(`${where}: encoder.grid`, `must be a positive integer, got ${JSON.stringify(o.grid)}`);
}

/**
 * `resnet18=<weights.pth>[:layer1,layer2]`, `resnet50=…`, `wide_resnet50_2=…` or `nsfwjs-mobilenetv2[:block_2,block_5]`
 * → the config and, for the ResNets, the weights file. The one definition of the syntax (README: "Encoder specs").
 * `stages` gives the stages of a spec that names none (the kNN's defaults, or training's).
 */
export function parseEncoderSpec(spec: string, stages: (kind: CnnEncoderKind) => string[] = defaultStages): { config: CnnEncoderConfig; file?: string } {
  const usage = `expected ${RESNET_KINDS.map((k) => `${k}=<weights.pth>[:layer2,layer3]`).join(' | ')} | nsfwjs-mobilenetv2[:block_2,block_5,block_9]`;
  const m = /^(nsfwjs-mobilenetv2|[a-z0-9_]+=.+?)(?::([a-z0-9_,]+))?$/.exec(spec);
  if (!m) throw new InputError(`encoder "${spec}"`, usage);
  const [kind, file] = m[1].includes('=') ? [m[1].slice(0, m[1].indexOf('=')), m[1].slice(m[1].indexOf('=') + 1)] : [m[1], undefined];
  if (!CNN_KINDS.includes(kind as CnnEncoderKind) || (kind === 'nsfwjs-mobilenetv2') !== (file === undefined)) throw new InputError(`encoder "${spec}"`, usage);
  const k = kind as CnnEncoderKind;
  const config: CnnEncoderConfig = { kind: k, layers: m[2] ? m[2].split(',').filter(Boolean) : stages(k), localAverage: true };
  validateCnnEncoderConfig(config, `encoder "${spec}"`);
  return { config, ...(file !== undefined ? { file } : {}) };
}

