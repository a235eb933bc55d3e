import * as tf from '@tensorflow/tfjs';
import { dinov2Features, PosEmbedCache } from '../encoder/dinov2.ts';
import { finishMap, reconstructionMap } from '../map/anomaly-map.ts';
import type { InpFormerConfig, TensorMap } from '../types.ts';
import { headForward, type HeadOutput, type HeadTrace } from './head.ts';
import { disposeParams, headParams, vitParams, type HeadParams, type VitParams } from './params.ts';

export interface PredictOptions {
  /** Scoring map side or [H, W] (official: 256). */
  mapSize: number | [number, number];
  /** Resize the finished map to this [H, W] (annotate protocol: the image's own size). */
  outputSize?: [number, number];
  /** Use the INP coherence-distance map instead of the reconstruction map. */
  zeroShot?: boolean;
}

export interface PredictResult {
  /** One map per image, row-major, `height`×`width`. */
  maps: Float32Array[];
  width: number;
  height: number;
  scores: number[];
}

export interface ForwardTrace extends HeadTrace {
  tokens?: tf.Tensor3D;
  layers?: tf.Tensor3D[];
}

export interface InpFormer {
  readonly config: InpFormerConfig;
  readonly head: HeadParams;
  /** Frozen encoder: tapped layers [B, N, C] and the patch grid. Caller disposes the layers. */
  encode(input: tf.Tensor4D, trace?: ForwardTrace): { layers: tf.Tensor3D[]; grid: [number, number] };
  /** Encoder + head. Caller disposes the outputs (and any traced tensors). */
  forward(input: tf.Tensor4D, trace?: ForwardTrace): HeadOutput & { grid: [number, number] };
  /** Normalised NCHW batch in, maps and image scores out. Holds no tensor after it returns. */
  predict(input: tf.Tensor4D | { data: Float32Array; shape: [number, number, number, number] }, opts: PredictOptions): Promise<PredictResult>;
  dispose(): void;
}

/** Builds the model from official-named weights; uploads them once. */
export function createInpFormer(config: InpFormerConfig, tensors: TensorMap): InpFormer {
  const enc: VitParams = vitParams(tensors, config);
  const head = headParams(tensors, config);
  const pos = new PosEmbedCache(enc.posTable, config.encoder);
  const p = config.encoder.patchSize;

  const encode = (input: tf.Tensor4D, trace?: ForwardTrace) => {
    const [, , H, W] = input.shape;
    const layers = dinov2Features(input, enc, config.encoder, pos, config.targetLayers,
      trace ? (t) => { trace.tokens = t; } : undefined);
    if (trace) trace.layers = layers.map((l) => tf.keep(l.clone()));
    return { layers, grid: [H / p, W / p] as [number, number] };
  };

  const forward = (input: tf.Tensor4D, trace?: ForwardTrace) => {
    const { layers, grid } = encode(input, trace);
    const out = headForward(layers, head, config, trace);
    layers.forEach((l) => l.dispose());
    return { ...out, grid };
  };

  return {
    config, head, encode, forward,
    async predict(input, opts) {
      const owned = !(input instanceof tf.Tensor);
      const x = owned ? tf.tensor4d(input.data, input.shape) : input;
      const [B, , H, W] = x.shape;
      const mapSize: [number, number] = typeof opts.mapSize === 'number' ? [opts.mapSize, opts.mapSize] : opts.mapSize;
      const { map, score } = tf.tidy(() => {
        const out = forward(x);
        const [gh, gw] = out.grid;
        const coarse = opts.zeroShot
          ? out.distance.reshape([B, gh, gw, 1]) as tf.Tensor4D
          : reconstructionMap(out.en, out.de, gh, gw);
        return finishMap(coarse, { inputSize: [H, W], mapSize, outputSize: opts.outputSize });
      });
      if (owned) x.dispose();
      const [data, scores] = await Promise.all([map.data() as Promise<Float32Array>, score.data()]);
      const [, h, w] = map.shape;
      map.dispose();
      score.dispose();
      return {
        maps: Array.from({ length: B }, (_, b) => data.slice(b * h * w, (b + 1) * h * w)),
        width: w, height: h, scores: Array.from(scores),
      };
    },
    dispose() {
      disposeParams(enc);
      disposeParams(head);
      pos.dispose();
    },
  };
}
