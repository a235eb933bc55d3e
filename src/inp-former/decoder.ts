import * as tf from '@tensorflow/tfjs';
import { attention, l2Normalize, layerNorm, linear, mergeHeads, mlp, splitHeads } from '../runtime/ops.ts';
import type { DecoderBlockParams } from './params.ts';

/**
 * INP-guided decoder block (official Prototype_Block). Tokens query the INPs with ReLU "cosine" attention:
 * q and k are L2-normalised per head and scaled by a learnt per-head factor, no softmax. The attention
 * residual is removed (the block input is not added back) so anomalous tokens cannot leak through; the MLP
 * residual stays.
 */
export function decoderBlock(x: tf.Tensor3D, inps: tf.Tensor3D, p: DecoderBlockParams, heads: number, eps: number): tf.Tensor3D {
  return tf.tidy(() => {
    const h = heads;
    const q = l2Normalize(splitHeads(linear(layerNorm(x, p.norm1, eps), p.q), h)) as tf.Tensor4D;
    const kv = linear(layerNorm(inps, p.norm1, eps), p.kv);
    const [kRaw, v] = tf.split(kv, 2, 2).map((t) => splitHeads(t, h));
    // Scaling k̂ per head equals scaling q̂k̂ᵀ per head, and keeps the attention callback head-agnostic.
    const k = tf.mul(l2Normalize(kRaw), p.learnScale.reshape([1, h, 1, 1])) as tf.Tensor4D;
    const y = linear(mergeHeads(attention(q, k, v, (s) => tf.relu(s))), p.proj);
    return tf.add(y, mlp(layerNorm(y, p.norm2, eps), p.mlp)) as tf.Tensor3D;
  });
}
