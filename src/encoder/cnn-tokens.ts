import * as tf from '@tensorflow/tfjs';

export interface CnnTokenOptions {
  /** Token grid [h, w]; default: the first (finest) stage's size. */
  grid?: [number, number];
  /** PatchCore's 3×3 neighbourhood average (stride 1, zero padding counted, as torch AvgPool2d(3, 1, 1)). */
  localAverage: boolean;
}

/**
 * Stage outputs (NHWC) → patch tokens [B, h·w, ΣC]: each stage optionally averaged over its 3×3 neighbourhood,
 * resized bilinearly (half-pixel centres, as F.interpolate(align_corners=False)) to one grid and concatenated,
 * so the rest of the pipeline treats CNN features like ViT tokens.
 */
export function cnnTokens(stages: tf.Tensor4D[], o: CnnTokenOptions): { tokens: tf.Tensor3D; grid: [number, number] } {
  const grid = o.grid ?? [stages[0].shape[1], stages[0].shape[2]];
  const tokens = tf.tidy(() => {
    const parts = stages.map((s) => {
      const a = o.localAverage ? tf.avgPool(tf.pad(s, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 1, 'valid') : s;
      return a.shape[1] === grid[0] && a.shape[2] === grid[1] ? a : tf.image.resizeBilinear(a as tf.Tensor4D, grid, false, true);
    });
    const cat = parts.length === 1 ? parts[0] : tf.concat(parts, 3);
    return cat.reshape([cat.shape[0], grid[0] * grid[1], cat.shape[3]]) as tf.Tensor3D;
  });
  return { tokens, grid };
}
