import * as tf from '@tensorflow/tfjs';

/** A Linear layer with its weight stored pre-transposed ([in, out]) so every product is a plain 2-D NN matMul. */
export interface Linear { w: tf.Tensor2D; b: tf.Tensor1D }
export interface Norm { g: tf.Tensor1D; b: tf.Tensor1D }
export interface Mlp { fc1: Linear; fc2: Linear }

/**
 * 2-D a·b whose gradient transposes explicitly (dy·bᵀ, aᵀ·dy as copies + NN products). tfjs-wasm sends only
 * non-transposed batch-1 2-D matMuls to XNNPACK; stock matMul gradients are NT/TN products that take a naive
 * loop 10× slower (runtime.md §5, §6). Same values as tf.matMul forward and backward.
 */
export const matMul2d = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor2D, [sa, sb]: tf.Tensor[]) => [
      tf.matMul(dy, tf.transpose(sb as tf.Tensor2D)),
      tf.matMul(tf.transpose(sa as tf.Tensor2D), dy),
    ],
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** x[..., in] · W + b, flattened to 2-D so it stays on the fast path (see matMul2d). */
export function linear(x: tf.Tensor, l: Linear): tf.Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const y = tf.add(matMul2d(x.reshape([-1, shape[shape.length - 1]]), l.w), l.b);
    return y.reshape([...shape.slice(0, -1), l.w.shape[1]]);
  });
}

/** torch.nn.LayerNorm over the last axis (biased variance). */
export function layerNorm(x: tf.Tensor, n: Norm, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, x.rank - 1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), n.g), n.b);
  });
}

/** Exact GELU, 0.5·x·(1 + erf(x/√2)), as torch's nn.GELU() default (not the tanh approximation). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

export function mlp(x: tf.Tensor, m: Mlp): tf.Tensor {
  return tf.tidy(() => linear(gelu(linear(x, m.fc1)), m.fc2));
}

/** Turns scores [..., Lq, Lk] into attention weights along the last axis (softmax, ReLU, …), same for every head. */
export type AttentionWeights = (scores: tf.Tensor) => tf.Tensor;

/**
 * Multi-head attention on [B, L, h·d] tensors (head-major channels, as torch's reshape(B, L, h, d)):
 * per head, weights(q·kᵀ)·v, heads concatenated back to [B, Lq, h·dv].
 * On wasm every (batch, head) pair is a 2-D matMul over an explicitly transposed k — the XNNPACK path, ~3×
 * faster there (runtime.md §4); elsewhere one batched matMul per product is faster. Same maths either way.
 */
export function attention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, weights: AttentionWeights): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, Lq, C] = q.shape;
    const Lk = k.shape[1];
    const d = C / heads;
    const dv = v.shape[2] / heads;
    if (tf.getBackend() !== 'wasm') {
      const split = (t: tf.Tensor3D, L: number, w: number) => t.reshape([B, L, heads, w]).transpose([0, 2, 1, 3]);
      const a = weights(tf.matMul(split(q, Lq, d), split(k, Lk, d), false, true));
      return tf.matMul(a, split(v, Lk, dv)).transpose([0, 2, 1, 3]).reshape([B, Lq, heads * dv]) as tf.Tensor3D;
    }
    if (Math.min(Lq, Lk) <= FEW_TOKENS) return fewTokenAttention(q, k, v, heads, weights);
    const q2 = q.reshape([B * Lq, C]) as tf.Tensor2D;
    const k2 = k.reshape([B * Lk, C]) as tf.Tensor2D;
    const v2 = v.reshape([B * Lk, heads * dv]) as tf.Tensor2D;
    const rows: tf.Tensor2D[] = [];
    for (let b = 0; b < B; b++) {
      const outs: tf.Tensor2D[] = [];
      for (let j = 0; j < heads; j++) {
        const qi = q2.slice([b * Lq, j * d], [Lq, d]);
        const kt = k2.slice([b * Lk, j * d], [Lk, d]).transpose() as tf.Tensor2D;
        const vi = v2.slice([b * Lk, j * dv], [Lk, dv]);
        outs.push(matMul2d(weights(matMul2d(qi, kt)) as tf.Tensor2D, vi));
      }
      rows.push(heads === 1 ? outs[0] : tf.concat(outs, 1));
    }
    return (B === 1 ? rows[0] : tf.concat(rows, 0)).reshape([B, Lq, heads * dv]) as tf.Tensor3D;
  });
}

/** Attention with at most this many tokens on one side (INPs) takes fewTokenAttention's block-diagonal path. */
const FEW_TOKENS = 16;

/** [rows·h, cols·h]-shaped 0/1 mask whose j-th diagonal block (rows × cols) is 1: keeps head j's products only. */
function blockMask(h: number, rows: number, cols: number): tf.Tensor2D {
  const m = new Float32Array(h * rows * h * cols);
  for (let j = 0; j < h; j++) for (let r = 0; r < rows; r++) m.fill(1, (j * rows + r) * h * cols + j * cols, (j * rows + r) * h * cols + (j + 1) * cols);
  return tf.tensor2d(m, [h * rows, h * cols]);
}

/**
 * attention() on wasm when one side holds only a few tokens (the M INPs: decoder queries → INPs, INP tokens →
 * features). The few side's per-head vectors are laid out block-diagonally, so all heads of an image are one 2-D
 * matMul per product instead of one per head with strided slices (which dominated a training step: 1.5 s of
 * Slice per step of 8 images at 784 tokens). The extra products with zero blocks cost h× on the small side only.
 */
function fewTokenAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, weights: AttentionWeights): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, Lq, C] = q.shape;
    const Lk = k.shape[1];
    const Cv = v.shape[2];
    const d = C / heads;
    const dv = Cv / heads;
    const rows: tf.Tensor2D[] = [];
    if (Lk <= Lq) {
      // Keys/values are few: Kbd [C, h·Lk] (head j's kᵀ in rows j·d…), Vbd [h·Lk, Cv] (head j's v in columns j·dv…).
      const kMask = blockMask(heads, d, Lk);
      const vMask = blockMask(heads, Lk, dv);
      for (let b = 0; b < B; b++) {
        const qb = q.slice([b, 0, 0], [1, Lq, C]).reshape([Lq, C]) as tf.Tensor2D;
        const kb = k.slice([b, 0, 0], [1, Lk, C]).reshape([Lk, C]);
        const vb = v.slice([b, 0, 0], [1, Lk, Cv]).reshape([Lk, Cv]);
        const kbd = tf.mul(tf.tile(kb.transpose(), [1, heads]), kMask) as tf.Tensor2D;
        const vbd = tf.mul(tf.tile(vb, [heads, 1]), vMask) as tf.Tensor2D;
        const a = weights(matMul2d(qb, kbd).reshape([Lq, heads, Lk])).reshape([Lq, heads * Lk]) as tf.Tensor2D;
        rows.push(matMul2d(a, vbd));
      }
    } else {
      // Queries are few: Qbd [h·Lq, C] (head j's q in rows j·Lq…, columns j·d…); each row's weights span all keys,
      // and of R = A·v [h·Lq, Cv] only head j's columns of its rows are kept, then summed over the heads.
      const qMask = blockMask(heads, Lq, d);
      const outMask = blockMask(heads, 1, dv).reshape([heads, 1, Cv]);
      for (let b = 0; b < B; b++) {
        const qb = q.slice([b, 0, 0], [1, Lq, C]).reshape([Lq, C]);
        const kb = k.slice([b, 0, 0], [1, Lk, C]).reshape([Lk, C]);
        const vb = v.slice([b, 0, 0], [1, Lk, Cv]).reshape([Lk, Cv]) as tf.Tensor2D;
        const qbd = tf.mul(tf.tile(qb, [heads, 1]), qMask) as tf.Tensor2D;
        const a = weights(matMul2d(qbd, kb.transpose() as tf.Tensor2D)) as tf.Tensor2D;
        rows.push(tf.sum(tf.mul(matMul2d(a, vb).reshape([heads, Lq, Cv]), outMask), 0) as tf.Tensor2D);
      }
    }
    return (B === 1 ? rows[0] : tf.concat(rows, 0)).reshape([B, Lq, Cv]) as tf.Tensor3D;
  });
}

/** The Linear x·W + b split into `parts` equal Linears along its outputs (qkv / kv): cheaper than splitting its output. */
export function splitLinear(l: Linear, parts: number): Linear[] {
  const out = l.w.shape[1] / parts;
  return Array.from({ length: parts }, (_, i) => ({
    w: l.w.slice([0, i * out], [-1, out]) as tf.Tensor2D, b: l.b.slice([i * out], [out]) as tf.Tensor1D,
  }));
}

/** Cosine similarity along `axis` as torch 1.13's F.cosine_similarity: x·y / √max(‖x‖²·‖y‖², eps²). */
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
  // max before the root: sqrt'(0) is infinite, so a zero row (a decoder token whose ReLU attention is all zero)
  // would make every gradient NaN; F.normalize's clamp of the norm at eps gives the same values.
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), -1, true), eps * eps))));
}

/**
 * Mean of same-shaped tensors. Summed pairwise rather than with tf.addN: WebGPU's AddN binds one storage buffer
 * per input and default devices allow only 8 per shader stage, so 8 tapped layers would fail there.
 */
export function meanOf(xs: tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => (xs.length === 1 ? xs[0].clone() : tf.div(xs.reduce((a, b) => tf.add(a, b)), xs.length)));
}
