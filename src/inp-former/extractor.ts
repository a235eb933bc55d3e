import * as tf from '@tensorflow/tfjs';
import { attention, layerNorm, linear, mergeHeads, mlp, splitHeads } from '../runtime/ops.ts';
import type { CrossBlockParams } from './params.ts';

/**
 * INP Extractor (official Aggregation_Block): the INP tokens attend to the fused features with ordinary softmax
 * cross-attention. One LayerNorm (norm1) normalises both sides; both residuals are kept.
 * @param tokens [B, M, C] learnable INP tokens, repeated over the batch
 * @param features [B, N, C] fused encoder features F_Q
 */
export function extractInps(tokens: tf.Tensor3D, features: tf.Tensor3D, p: CrossBlockParams, heads: number, eps: number): tf.Tensor3D {
  return tf.tidy(() => {
    const C = tokens.shape[2];
    const q = splitHeads(linear(layerNorm(tokens, p.norm1, eps), p.q), heads);
    const kv = linear(layerNorm(features, p.norm1, eps), p.kv);
    const [k, v] = tf.split(kv, 2, 2).map((t) => splitHeads(t, heads));
    const scale = 1 / Math.sqrt(C / heads);
    const y = mergeHeads(attention(tf.mul(q, scale) as tf.Tensor4D, k, v, (s) => tf.softmax(s)));
    const x = tf.add(tokens, linear(y, p.proj));
    return tf.add(x, mlp(layerNorm(x, p.norm2, eps), p.mlp)) as tf.Tensor3D;
  });
}
