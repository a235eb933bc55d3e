import * as tf from '@tensorflow/tfjs';
import { cosineSimilarity, meanOf } from '../runtime/ops.ts';

/** The official evaluation kernel: 5×5, σ = 4, normalised to sum 1 (utils.get_gaussian_kernel). */
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

/** Depth-1 Gaussian with zero padding, as the reference's conv2d(padding=size//2). x: [B, H, W, 1]. */
export function gaussianBlur(x: tf.Tensor4D, size = 5, sigma = 4): tf.Tensor4D {
  return tf.tidy(() => {
    const pad = Math.floor(size / 2);
    const k = tf.tensor4d(gaussianKernel(size, sigma), [size, size, 1, 1]);
    return tf.conv2d(tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), k, 1, 'valid');
  });
}

/** Per-group 1 − cos over channels, averaged over groups: [B, gh, gw, 1]. en/de tokens are [B, gh·gw, C]. */
export function reconstructionMap(en: tf.Tensor3D[], de: tf.Tensor3D[], gh: number, gw: number): tf.Tensor4D {
  return tf.tidy(() => {
    const maps = en.map((e, g) => tf.sub(1, cosineSimilarity(e, de[g], 2)));
    return meanOf(maps).reshape([-1, gh, gw, 1]) as tf.Tensor4D;
  });
}

export interface MapOptions {
  /** Model input size [H, W]: the coarse map is first upsampled to it with align_corners=True. */
  inputSize: [number, number];
  /** Scoring map size (official: 256×256); bilinear with half-pixel centres, then the Gaussian. */
  mapSize: [number, number];
  /** Optional final size (annotate protocol: the image's own size), bilinear half-pixel after the Gaussian. */
  outputSize?: [number, number];
  /** Fraction of the scoring map averaged for the image score (official max_ratio 0.01). */
  topRatio?: number;
}

/**
 * The official evaluation chain on a coarse map [B, gh, gw, 1]: upsample (align_corners=True) to the input
 * size, resize (align_corners=False) to the map size, Gaussian σ=4, score = mean of the top 1 %.
 * The score is always taken on the scoring map, so it does not depend on the size the map is shown at;
 * under the annotate protocol the blurred map is then resized to the image's size.
 */
export function finishMap(coarse: tf.Tensor4D, o: MapOptions): { map: tf.Tensor3D; score: tf.Tensor1D } {
  return tf.tidy(() => {
    const up = tf.image.resizeBilinear(coarse, o.inputSize, true);
    const sized = tf.image.resizeBilinear(up, o.mapSize, false, true);
    const blurred = gaussianBlur(sized);
    const [B, H, W] = blurred.shape;
    const k = Math.max(1, Math.floor(H * W * (o.topRatio ?? 0.01)));
    const score = tf.mean(tf.topk(blurred.reshape([B, H * W]), k).values, 1) as tf.Tensor1D;
    const shown = o.outputSize ? tf.image.resizeBilinear(blurred, o.outputSize, false, true) : blurred;
    return { map: shown.squeeze([3]) as tf.Tensor3D, score };
  });
}
