import * as tf from '@tensorflow/tfjs';
import type { EncoderOutput } from '../encoder/dinov2.ts';
import { distanceMap, finishMap, reconstructionMap } from '../map/anomaly-map.ts';
import type { InpFormerConfig, TensorMap } from '../types.ts';
import { inpFormerForward, type ForwardOutput } from './model.ts';
import { createFrozenEncoder } from './frozen-encoder.ts';
import { disposeParams, uploadHead, type HeadParams } from './weights.ts';

/** A normalised NCHW batch [B, 3, H, W], H and W multiples of the patch size. */
export type PredictInput = tf.Tensor4D | { data: Float32Array; shape: [number, number, number, number] };

export interface PredictOptions {
  /** Scoring map side or [H, W] (official: 256); the image score is always taken on this map. */
  mapSize: number | [number, number];
  /** Resize the finished map to this [H, W] (annotate protocol: the image's own size). */
  outputSize?: [number, number];
  /** Use the INP coherence-distance map instead of the reconstruction map. */
  zeroShot?: boolean;
  /** Head to run instead of the loaded one, e.g. a trainer's variables (same tree, see weights.mapParams). */
  head?: HeadParams;
}

export interface PredictResult {
  /** One map per image, row-major, `height`×`width`. */
  maps: Float32Array[];
  width: number;
  height: number;
  scores: number[];
}

export interface InpFormer {
  readonly config: InpFormerConfig;
  /** The loaded head; a trainer maps it to variables and passes those back through `head` options. */
  readonly head: HeadParams;
  /** Inputs must be a multiple of this many pixels (the ViT patch; 1 for CNN encoders). */
  readonly inputMultiple: number;
  /** Frozen encoder only: tapped layers [B, N, C] and the grid (a trainer computes these once per batch). Caller disposes. */
  encode(x: tf.Tensor4D, opts?: { keepTokens?: boolean }): EncoderOutput;
  /** Encoder + head. Caller disposes every returned tensor. */
  forward(x: tf.Tensor4D, opts?: { intermediates?: boolean; head?: HeadParams }): ForwardOutput;
  /** Maps and image scores; holds no tensor once it resolves, and disposes `input` only if it created it. */
  predict(input: PredictInput, opts: PredictOptions): Promise<PredictResult>;
  /** Frees every uploaded weight and cached positional table. */
  dispose(): void;
}

/**
 * Uploads official-named weights once (Linear weights transposed, patch kernel as a matrix) and returns the model.
 * `encoderWeights`: a CNN encoder's weights when the model does not hold them (nsfwjs, read from its package).
 */
export function createInpFormer(config: InpFormerConfig, tensors: TensorMap, o: { encoderWeights?: TensorMap; where?: string } = {}): InpFormer {
  const encoder = createFrozenEncoder(config, tensors, o);
  const head = uploadHead(tensors, config);

  const forward: InpFormer['forward'] = (x, opts = {}) => inpFormerForward(x, encoder, opts.head ?? head, config, opts);

  return {
    config,
    head,
    inputMultiple: encoder.inputMultiple,
    encode: (x, opts = {}) => encoder.encode(x, opts),
    forward,
    async predict(input, opts) {
      const x = input instanceof tf.Tensor ? input : tf.tensor4d(input.data, input.shape);
      const [B, , H, W] = x.shape;
      const mapSize: [number, number] = typeof opts.mapSize === 'number' ? [opts.mapSize, opts.mapSize] : opts.mapSize;
      const { map, score } = tf.tidy(() => {
        const out = forward(x, { head: opts.head });
        const [gh, gw] = out.grid;
        const coarse = opts.zeroShot ? distanceMap(out.distance, gh, gw) : reconstructionMap(out.en, out.de, gh, gw);
        return finishMap(coarse, { inputSize: [H, W], mapSize, outputSize: opts.outputSize });
      });
      if (x !== input) x.dispose();
      try {
        const [data, scores] = await Promise.all([map.data() as Promise<Float32Array>, score.data()]);
        const [, h, w] = map.shape;
        return {
          maps: Array.from({ length: B }, (_, b) => data.slice(b * h * w, (b + 1) * h * w)),
          width: w, height: h, scores: Array.from(scores),
        };
      } finally {
        map.dispose();
        score.dispose();
      }
    },
    dispose() {
      disposeParams(head);
      encoder.dispose();
    },
  };
}
