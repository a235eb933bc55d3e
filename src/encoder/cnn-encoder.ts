import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import type { TensorMap } from '../types.ts';
import { cnnTokens } from './cnn-tokens.ts';
import { createResNet, RESNET_STAGES, type ResNetKind, type ResNetStage } from './resnet.ts';

/** How a CNN encoder is described inside a model: everything but the weights. */
export interface CnnEncoderConfig {
  kind: ResNetKind;
  layers: ResNetStage[];
  localAverage: boolean;
  /** Token grid side; default the first layer's size. */
  grid?: number;
}

export interface PatchEncoder {
  readonly config: CnnEncoderConfig;
  /** Normalised NCHW → tokens [B, N, C] (caller disposes) and the grid. */
  encode(x: tf.Tensor4D): { tokens: tf.Tensor3D; grid: [number, number] };
  dispose(): void;
}

export const CNN_KINDS: readonly ResNetKind[] = ['resnet18', 'resnet50', 'wide_resnet50_2'];

/** Default stages: PatchCore's layer2+layer3 for the ResNets. */
export const DEFAULT_LAYERS: ResNetStage[] = ['layer2', 'layer3'];

/** `resnet18=<weights.pth>[:layer1,layer2]` → kind, weights path and layers (README: "Encoder specs"). */
export function parseEncoderSpec(spec: string): { kind: ResNetKind; file: string; layers: ResNetStage[] } {
  const m = /^([a-z0-9_]+)=(.+?)(?::((?:layer[1-4],?)+))?$/.exec(spec);
  if (!m || !(CNN_KINDS as readonly string[]).includes(m[1])) {
    throw new InputError(`encoder "${spec}"`, `expected ${CNN_KINDS.map((k) => `${k}=<weights.pth>[:layer2,layer3]`).join(' | ')}`);
  }
  const layers = m[3] ? (m[3].split(',').filter(Boolean) as ResNetStage[]) : DEFAULT_LAYERS;
  if (layers.some((l) => !RESNET_STAGES.includes(l))) throw new InputError(`encoder "${spec}"`, `layers must be among ${RESNET_STAGES.join(', ')}`);
  return { kind: m[1] as ResNetKind, file: m[2], layers };
}

export function createCnnEncoder(config: CnnEncoderConfig, weights: TensorMap, where: string): PatchEncoder {
  const net = createResNet(config.kind, weights, where);
  for (const l of config.layers) {
    if (!net.stages.includes(l)) throw new InputError(where, `${l} is not usable in this checkpoint (usable: ${net.stages.join(', ')})`);
  }
  return {
    config,
    encode(x) {
      const outs = net.forward(x, config.layers);
      const stages = config.layers.map((l) => outs.get(l)!);
      const r = cnnTokens(stages, { localAverage: config.localAverage, grid: config.grid ? [config.grid, config.grid] : undefined });
      tf.dispose(stages);
      return r;
    },
    dispose: () => net.dispose(),
  };
}
