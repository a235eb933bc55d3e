import * as tf from '@tensorflow/tfjs';
import { dinov2Features, PosEmbedCache, type EncoderOutput } from '../encoder/dinov2.ts';
import { createPatchEncoder } from '../encoder/patch-encoder.ts';
import type { EncoderConfig, InpFormerConfig, TensorMap, VitEncoderConfig } from '../types.ts';
import { disposeParams, uploadEncoder } from './weights.ts';

/** The frozen encoder of an INP-Former, whatever its kind: tapped token layers [B, N, C] and the grid. */
export interface FrozenEncoder {
  /** Normalised NCHW → tapped layers (caller disposes). `keepTokens` (ViT only) also returns the input tokens. */
  encode(x: tf.Tensor4D, opts?: { keepTokens?: boolean }): EncoderOutput;
  /** Inputs must be a multiple of this many pixels: the ViT patch, 1 for CNNs. */
  readonly inputMultiple: number;
  dispose(): void;
}

export const isVit = (e: EncoderConfig): e is VitEncoderConfig => e.kind === 'dinov2';

/** Pixel multiple an encoder's input must be. */
export const inputMultipleOf = (e: EncoderConfig): number => (isVit(e) ? e.patchSize : 1);

/** Where a model's tensors keep its encoder's (official DINOv2 or torchvision) weights. */
export const ENCODER_PREFIX = 'encoder.';

/** The `encoder.`-prefixed tensors of a model, prefix removed. */
export function encoderTensorsOf(t: TensorMap): TensorMap {
  const out: TensorMap = new Map();
  for (const [k, v] of t) if (k.startsWith(ENCODER_PREFIX)) out.set(k.slice(ENCODER_PREFIX.length), v);
  return out;
}

/**
 * Uploads the encoder of `config` from the model's tensors (`encoder.*`), or from `encoderWeights` when the model
 * does not hold them (the nsfwjs MobileNetV2, read from its package). A CNN gives one token layer: its chosen
 * stages on one grid, concatenated (tap [0]).
 */
export function createFrozenEncoder(config: InpFormerConfig, tensors: TensorMap, o: { encoderWeights?: TensorMap; where?: string } = {}): FrozenEncoder {
  const e = config.encoder;
  if (isVit(e)) {
    const w = uploadEncoder(tensors, e, config.targetLayers);
    const pos = new PosEmbedCache(w.posTable, e);
    return {
      inputMultiple: e.patchSize,
      encode: (x, opts = {}) => dinov2Features(x, w, e, pos, config.targetLayers, opts),
      dispose() { disposeParams(w); pos.dispose(); },
    };
  }
  const cnn = createPatchEncoder(e, o.encoderWeights ?? encoderTensorsOf(tensors), o.where ?? 'model');
  return {
    inputMultiple: 1,
    encode(x) {
      const { tokens, grid } = cnn.encode(x);
      return { layers: [tokens], grid };
    },
    dispose: () => cnn.dispose(),
  };
}
