import * as tf from '@tensorflow/tfjs';
import type { InpFormer, PredictOptions, PredictResult } from '../inp-former/predict.ts';
import type { KnnDetector } from '../knn/knn.ts';
import { finishMap, reconstructionMap } from '../map/anomaly-map.ts';
import { cosineSimilarity, meanOf } from '../runtime/ops.ts';
import type { RefineConfig } from '../types.ts';
import { refinedCoarse, refineLogits, type RefineParams } from './head.ts';

/** What the refinement head reads from a frozen detector. */
export interface ResidualSource {
  /** Residual features [B, gh, gw, inputDim] and the raw coarse map [B, gh, gw, 1]; caller disposes. */
  residual(x: tf.Tensor4D): { features: tf.Tensor4D; coarse: tf.Tensor4D };
  /** Channels of the features. */
  readonly residualDim: number;
  /** The method's image score: INP-Former's top 1 % mean, the kNN's maximum. */
  readonly topRatio: number;
}

/**
 * INP-Former's residual (INP-Former++ "Eq. 7"): per token, each fused group's |E − D| scaled by its cosine
 * distance, averaged over the groups, and the reconstruction map as one more channel.
 */
export function inpFormerResidual(model: InpFormer): ResidualSource {
  return {
    residualDim: model.config.embedDim + 1,
    topRatio: 0.01,
    residual(x) {
      return tf.tidy(() => {
        const out = model.forward(x);
        const [gh, gw] = out.grid;
        const B = x.shape[0];
        const coarse = reconstructionMap(out.en, out.de, gh, gw);
        const parts = out.en.map((e, g) => {
          const cosDist = tf.sub(1, cosineSimilarity(e, out.de[g], 2)).expandDims(2);
          return tf.mul(tf.abs(tf.sub(e, out.de[g])), cosDist);
        });
        const feats = tf.concat([meanOf(parts).reshape([B, gh, gw, -1]), coarse], 3) as tf.Tensor4D;
        return { features: feats, coarse };
      });
    },
  };
}

/** A kNN detector's residuals (its image score is the map's maximum). */
export function knnResidual(knn: KnnDetector): ResidualSource {
  return { residual: knn.residual, residualDim: knn.residualDim, topRatio: 0 };
}

/** The refined map chain: residual → head → average with the raw map → the method's map finish (sizes, Gaussian, score). */
export async function refinedPredict(
  source: ResidualSource, head: RefineParams, config: RefineConfig, x: tf.Tensor4D, opts: PredictOptions,
): Promise<PredictResult> {
  const [B, , H, W] = x.shape;
  const mapSize: [number, number] = typeof opts.mapSize === 'number' ? [opts.mapSize, opts.mapSize] : opts.mapSize;
  const { map, score } = tf.tidy(() => {
    const { features, coarse } = source.residual(x);
    const combined = refinedCoarse(coarse, refineLogits(features, head), config.rawScale);
    return finishMap(combined, { inputSize: [H, W], mapSize, outputSize: opts.outputSize, topRatio: source.topRatio });
  });
  try {
    const [data, scores] = await Promise.all([map.data() as Promise<Float32Array>, score.data()]);
    const [, h, w] = map.shape;
    return { maps: Array.from({ length: B }, (_, b) => data.slice(b * h * w, (b + 1) * h * w)), width: w, height: h, scores: Array.from(scores) };
  } finally {
    map.dispose();
    score.dispose();
  }
}
