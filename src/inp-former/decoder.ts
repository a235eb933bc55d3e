import * as tf from '@tensorflow/tfjs';
import { attention, l2Normalize, layerNorm, linear, mlp, splitLinear } from '../runtime/ops.ts';
import type { DecoderBlockParams } from './weights.ts';

/** L2-normalises each head's d-vector of [B, L, h·d] (F.normalize over head_dim, eps 1e-12), optionally scaled per head. */
function normalizeHeads(x: tf.Tensor3D, heads: number, scale?: tf.Tensor1D): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, L, C] = x.shape;
    const n = l2Normalize(x.reshape([B, L, heads, C / heads]));
    return (scale ? tf.mul(n, scale.reshape([1, 1, heads, 1])) : n).reshape([B, L, C]) as tf.Tensor3D;
  });
}

/**
 * INP-guided decoder block (official Prototype_Block). Tokens query the INPs with ReLU "cosine" attention,
 * A = ReLU(s_h · q̂k̂ᵀ), no softmax. The attention residual is removed (the block input is not added back) so the
 * output can only be rebuilt from normal prototypes; the MLP residual stays.
 * @param x [B, N, C] token stream; @param inps [B, M, C] the image's INPs (the same for every block)
 */
export function decoderBlock(x: tf.Tensor3D, inps: tf.Tensor3D, p: DecoderBlockParams, heads: number, eps: number): tf.Tensor3D {
  return tf.tidy(() => {
    const q = normalizeHeads(linear(layerNorm(x, p.norm1, eps), p.q) as tf.Tensor3D, heads);
    const normed = layerNorm(inps, p.norm1, eps);
    const [kRaw, v] = splitLinear(p.kv, 2).map((l) => linear(normed, l) as tf.Tensor3D);
    // s_h·(q̂·k̂) = q̂·(s_h·k̂): scaling the M keys is cheaper than the N×M scores and keeps one attention routine.
    const k = normalizeHeads(kRaw, heads, p.learnScale);
    const y = linear(attention(q, k, v, heads, (s) => tf.relu(s)), p.proj);
    return tf.add(y, mlp(layerNorm(y, p.norm2, eps), p.mlp)) as tf.Tensor3D;
  });
}
