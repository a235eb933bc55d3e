import * as tf from '@tensorflow/tfjs';
import type { CnnEncoderConfig, TensorMap } from '../types.ts';
import { cnnTokenDim, validateCnnEncoderConfig, type MobileNetV2Stage, type ResNetKind, type ResNetStage } from './cnn-config.ts';
import { InputError } from '../errors.ts';
import { cnnTokens } from './cnn-tokens.ts';
import { createNsfwjsMobileNetV2 } from './mobilenetv2-nsfwjs.ts';
import { createResNet } from './resnet.ts';

/** A frozen CNN seen as a patch-token encoder: chosen stages on one grid, concatenated (PatchCore's features). */
export interface PatchEncoder {
  readonly config: CnnEncoderConfig;
  /** Token width: the sum of the chosen stages' channels. */
  readonly dim: number;
  /** Normalised NCHW → tokens [B, N, C] (caller disposes) and the grid. */
  encode(x: tf.Tensor4D): { tokens: tf.Tensor3D; grid: [number, number] };
  dispose(): void;
}

/** Builds the encoder; `weights` are torchvision state-dict tensors or nsfwjs's dequantised Keras weights. */
export function createPatchEncoder(config: CnnEncoderConfig, weights: TensorMap, where: string): PatchEncoder {
  validateCnnEncoderConfig(config, where);
  const net = config.kind === 'nsfwjs-mobilenetv2'
    ? wrap(createNsfwjsMobileNetV2(weights, where), config.layers as MobileNetV2Stage[])
    : wrapResNet(config.kind as ResNetKind, weights, config.layers as ResNetStage[], where);
  return {
    config,
    dim: cnnTokenDim(config),
    encode(x) {
      const outs = net.forward(x);
      const r = cnnTokens(outs, { localAverage: config.localAverage, grid: config.grid ? [config.grid, config.grid] : undefined });
      tf.dispose(outs);
      return r;
    },
    dispose: () => net.dispose(),
  };
}

interface StageNet { forward(x: tf.Tensor4D): tf.Tensor4D[]; dispose(): void }

function wrap<S extends string>(net: { forward(x: tf.Tensor4D, s: readonly S[]): Map<S, tf.Tensor4D>; dispose(): void }, layers: S[]): StageNet {
  return {
    forward: (x) => { const m = net.forward(x, layers); return layers.map((l) => m.get(l)!); },
    dispose: () => net.dispose(),
  };
}

function wrapResNet(kind: ResNetKind, weights: TensorMap, layers: ResNetStage[], where: string): StageNet {
  const net = createResNet(kind, weights, where);
  for (const l of layers) {
    if (!net.stages.includes(l)) throw new InputError(where, `${l} is not usable in this checkpoint (usable: ${net.stages.join(', ')})`);
  }
  return wrap(net, layers);
}
