import * as tf from '@tensorflow/tfjs';
import { cosineSimilarity, meanOf } from '../runtime/ops.ts';

/** The official evaluation kernel (utils.get_gaussian_kernel): size×size, σ, normalised to sum 1; row-major. */
export function gaussianKernel(size = 5, sigma = 4): Float32Array {
  const k = new Float32Array(size * size);
  const mean = (size - 1) / 2;
  let sum = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = Math.exp(-((x - mean) ** 2 + (y - mean) ** 2) / (2 * sigma * sigma));
      k[y * size + x] = v;
      sum += v;
    }
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** Depth-1 Gaussian with zero padding size/2, as the reference's conv2d(padding=size//2). x: [B, H, W, 1]. */
export function gaussianBlur(x: tf.Tensor4D, size = 5, sigma = 4): tf.Tensor4D {
  return tf.tidy(() => {
    const pad = Math.floor(size / 2);
    const k = tf.tensor4d(gaussianKernel(size, sigma), [size, size, 1, 1]);
    return tf.conv2d(tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), k, 1, 'valid');
  });
}

/** Per-group 1 − cos over channels (eps 1e-8), averaged over groups: [B, gh, gw, 1]. en/de are [B, gh·gw, C]. */
export function reconstructionMap(en: tf.Tensor3D[], de: tf.Tensor3D[], gh: number, gw: number): tf.Tensor4D {
  return tf.tidy(() => {
    const maps = en.map((e, g) => tf.sub(1, cosineSimilarity(e, de[g], 2)));
    return meanOf(maps).reshape([-1, gh, gw, 1]) as tf.Tensor4D;
  });
}

/** The coherence-distance map [B, N] as a coarse map [B, gh, gw, 1] (zero-shot). */
export function distanceMap(distance: tf.Tensor2D, gh: number, gw: number): tf.Tensor4D {
  return distance.reshape([-1, gh, gw, 1]);
}

/**
 * Coarse map → input resolution, bilinear with align_corners=True (utils.cal_anomaly_maps). Averaging the groups
 * before this step, as reconstructionMap does, is the same because the resize is linear.
 */
export function toInputSize(coarse: tf.Tensor4D, inputSize: [number, number]): tf.Tensor4D {
  return tf.image.resizeBilinear(coarse, inputSize, true);
}

/** Input-size map → scoring map: bilinear with half-pixel centres (align_corners=False, no antialias), then the Gaussian. */
export function scoringMap(x: tf.Tensor4D, mapSize: [number, number]): tf.Tensor4D {
  return tf.tidy(() => gaussianBlur(tf.image.resizeBilinear(x, mapSize, false, true)));
}

/** Mean of the top ⌊H·W·ratio⌋ values of each map [B, H, W, 1] (official max_ratio 0.01); the maximum when that is 0. */
export function topScore(map: tf.Tensor4D, ratio = 0.01): tf.Tensor1D {
  return tf.tidy(() => {
    const [B, H, W] = map.shape;
    const flat = map.reshape([B, H * W]);
    const k = Math.floor(H * W * ratio);
    return (k < 1 ? tf.max(flat, 1) : tf.mean(tf.topk(flat, k).values, 1)) as tf.Tensor1D;
  });
}

export interface MapOptions {
  /** Model input size [H, W]: the coarse map is first upsampled to it with align_corners=True. */
  inputSize: [number, number];
  /** Scoring map size (official: 256×256): bilinear half-pixel resize, then the Gaussian. */
  mapSize: [number, number];
  /** Optional final size (annotate protocol: the image's own size), bilinear half-pixel after the Gaussian. */
  outputSize?: [number, number];
  /** Fraction of the scoring map averaged for the image score (official max_ratio 0.01); 0 = the maximum. */
  topRatio?: number;
}

/** The annotate protocol's last step: the blurred scoring map [B, h, w, 1] resized onto the image (bilinear, half-pixel centres). */
export function toOutputSize(scored: tf.Tensor4D, size: [number, number]): tf.Tensor4D {
  return tf.image.resizeBilinear(scored, size, false, true);
}

/**
 * The official evaluation chain on a coarse map [B, gh, gw, 1]: align-corners upsample to the input size,
 * half-pixel resize to the scoring size, Gaussian σ=4, score = mean of the top 1 %. Used alike for the
 * reconstruction map, the zero-shot distance map and the kNN baseline.
 *
 * Annotate variant (`outputSize`): the Gaussian runs at the scoring size and the blurred map is then resized to
 * the image. σ = 4 is defined in scoring-map pixels, so blurring there keeps the smoothing (and the score, always
 * taken on the scoring map) independent of the image's resolution, and costs 5×5 taps on the small map only;
 * the final resize is a smooth upsampling of an already smooth map, so nothing is lost by doing it last.
 */
export function finishMap(coarse: tf.Tensor4D, o: MapOptions): { map: tf.Tensor3D; score: tf.Tensor1D } {
  return tf.tidy(() => {
    const scored = scoringMap(toInputSize(coarse, o.inputSize), o.mapSize);
    const score = topScore(scored, o.topRatio);
    const shown = o.outputSize ? toOutputSize(scored, o.outputSize) : scored;
    return { map: shown.squeeze([3]) as tf.Tensor3D, score };
  });
}
