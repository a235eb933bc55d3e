import * as tf from '@tensorflow/tfjs';
import { attention, layerNorm, linear, mlp, splitLinear } from '../runtime/ops.ts';
import type { CrossBlockParams } from './weights.ts';

/**
 * INP Extractor (official Aggregation_Block): the INP tokens attend to the fused features with ordinary softmax
 * cross-attention. One LayerNorm (norm1) normalises both the queries and the keys/values; both residuals are kept.
 * @param tokens [B, M, C] learnable INP tokens, repeated over the batch
 * @param features [B, N, C] fused encoder features F_Q
 * @returns the image's INPs P, [B, M, C]
 */
export function extractInps(tokens: tf.Tensor3D, features: tf.Tensor3D, p: CrossBlockParams, heads: number, eps: number): tf.Tensor3D {
  return tf.tidy(() => {
    const C = tokens.shape[2];
    const q = linear(layerNorm(tokens, p.norm1, eps), p.q) as tf.Tensor3D;
    const normed = layerNorm(features, p.norm1, eps);
    const [k, v] = splitLinear(p.kv, 2).map((l) => linear(normed, l) as tf.Tensor3D);
    const y = attention(tf.mul(q, 1 / Math.sqrt(C / heads)), k, v, heads, (s) => tf.softmax(s));
    const x = tf.add(tokens, linear(y, p.proj));
    return tf.add(x, mlp(layerNorm(x, p.norm2, eps), p.mlp)) as tf.Tensor3D;
  });
}
