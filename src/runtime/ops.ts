import * as tf from '@tensorflow/tfjs';

/** A Linear layer with its weight stored pre-transposed ([in, out]) so every product is a plain 2-D NN matMul. */
export interface Linear { w: tf.Tensor2D; b: tf.Tensor1D }
export interface Norm { g: tf.Tensor1D; b: tf.Tensor1D }
export interface Mlp { fc1: Linear; fc2: Linear }

/**
 * x[..., in] · W + b. Flattened to 2-D because tfjs-wasm only sends non-transposed batch-1 2-D matMuls to
 * XNNPACK; anything else takes a naive loop ~10× slower (runtime.md §6).
 */
export function linear(x: tf.Tensor, l: Linear): tf.Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const inDim = shape[shape.length - 1];
    const y = tf.add(tf.matMul(x.reshape([-1, inDim]), l.w), l.b);
    return y.reshape([...shape.slice(0, -1), l.w.shape[1]]);
  });
}

export function layerNorm(x: tf.Tensor, n: Norm, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const { mean, variance } = tf.moments(x, axis, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), n.g), n.b);
  });
}

/** Exact GELU, 0.5·x·(1 + erf(x/√2)), as torch's nn.GELU() default (not the tanh approximation). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

export function mlp(x: tf.Tensor, m: Mlp): tf.Tensor {
  return tf.tidy(() => linear(gelu(linear(x, m.fc1)), m.fc2));
}

/** [B, L, h·d] -> [B, h, L, d] */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [B, L, C] = x.shape;
  return x.reshape([B, L, heads, C / heads]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
}

/** [B, h, L, d] -> [B, L, h·d] */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [B, h, L, d] = x.shape;
  return x.transpose([0, 2, 1, 3]).reshape([B, L, h * d]) as tf.Tensor3D;
}

/**
 * Runs `f(q_i, kT_i) -> weights_i`, then weights_i · v_i for every (batch, head) pair.
 * On wasm each pair is a separate 2-D matMul with K transposed explicitly (XNNPACK fast path, ~3× faster,
 * runtime.md §4); elsewhere one batched matMul is faster. Same maths either way.
 */
export function attention(
  q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D,
  weights: (scores: tf.Tensor) => tf.Tensor,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, h, Lq, d] = q.shape;
    const Lk = k.shape[2];
    if (tf.getBackend() !== 'wasm') {
      return tf.matMul(weights(tf.matMul(q, k, false, true)), v) as tf.Tensor4D;
    }
    const qs = tf.unstack(q.reshape([B * h, Lq, d]));
    const kts = tf.unstack(k.reshape([B * h, Lk, d]).transpose([0, 2, 1]));
    const vs = tf.unstack(v.reshape([B * h, Lk, v.shape[3]]));
    const outs = qs.map((qi, i) => tf.matMul(weights(tf.matMul(qi, kts[i])), vs[i]));
    return tf.stack(outs).reshape([B, h, Lq, v.shape[3]]) as tf.Tensor4D;
  });
}

/** Cosine similarity along `axis` as torch.nn.functional.cosine_similarity: x·y / max(‖x‖·‖y‖, eps). */
export function cosineSimilarity(a: tf.Tensor, b: tf.Tensor, axis: number, eps = 1e-8): tf.Tensor {
  return tf.tidy(() => {
    const dot = tf.sum(tf.mul(a, b), axis);
    const na = tf.sum(tf.square(a), axis);
    const nb = tf.sum(tf.square(b), axis);
    return tf.div(dot, tf.sqrt(tf.maximum(tf.mul(na, nb), eps * eps)));
  });
}

/** F.normalize(x, dim=-1): x / max(‖x‖, eps). */
export function l2Normalize(x: tf.Tensor, eps = 1e-12): tf.Tensor {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 2, -1, true), eps)));
}

/**
 * Mean of same-shaped tensors. Summed pairwise rather than with tf.addN: WebGPU's AddN binds one storage buffer
 * per input and default devices allow only 8 per shader stage, so 8 tapped layers would fail there.
 */
export function meanOf(xs: tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => (xs.length === 1 ? xs[0].clone() : tf.div(xs.reduce((a, b) => tf.add(a, b)), xs.length)));
}
