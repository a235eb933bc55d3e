import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { useBackend, type BackendName } from '../../../src/runtime/backend.ts';
import { attention, cosineSimilarity, gelu, l2Normalize, layerNorm, matMul2d } from '../../../src/runtime/ops.ts';
import { relMaxDiff } from '../../helpers/shared.ts';

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1);
}

/** Plain-JS multi-head attention on [B, L, h·d] arrays. */
function refAttention(q: Float32Array, k: Float32Array, v: Float32Array, B: number, Lq: number, Lk: number, h: number, d: number, dv: number, softmax: boolean): Float32Array {
  const out = new Float32Array(B * Lq * h * dv);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < h; j++) {
      for (let i = 0; i < Lq; i++) {
        const s = Array.from({ length: Lk }, (_, m) => {
          let acc = 0;
          for (let c = 0; c < d; c++) acc += q[(b * Lq + i) * h * d + j * d + c] * k[(b * Lk + m) * h * d + j * d + c];
          return acc;
        });
        let w = s.map((x) => Math.max(x, 0));
        if (softmax) {
          const mx = Math.max(...s);
          const e = s.map((x) => Math.exp(x - mx));
          const z = e.reduce((a, x) => a + x, 0);
          w = e.map((x) => x / z);
        }
        for (let c = 0; c < dv; c++) {
          let acc = 0;
          for (let m = 0; m < Lk; m++) acc += w[m] * v[(b * Lk + m) * h * dv + j * dv + c];
          out[(b * Lq + i) * h * dv + j * dv + c] = acc;
        }
      }
    }
  }
  return out;
}

describe.each(['cpu', 'wasm'] as BackendName[])('runtime ops on %s', (backend) => {
  // Shapes: few keys (decoder → INPs), few queries (INP tokens → features), both few, and neither (ViT self-attention).
  it.each([[2, 20, 3], [2, 3, 20], [1, 5, 7], [2, 18, 17]])('multi-head attention equals the per-head reference, value and gradient (B %i, Lq %i, Lk %i)', async (B, Lq, Lk) => {
    await useBackend(backend);
    const [h, d, dv] = [3, 4, 2];
    const q = rand(B * Lq * h * d, 1);
    const k = rand(B * Lk * h * d, 2);
    const v = rand(B * Lk * h * dv, 3);
    for (const softmax of [true, false]) {
      const weights = (s: tf.Tensor) => (softmax ? tf.softmax(s) : tf.relu(s));
      const [qt, kt, vt] = [tf.tensor3d(q, [B, Lq, h * d]), tf.tensor3d(k, [B, Lk, h * d]), tf.tensor3d(v, [B, Lk, h * dv])];
      const got = tf.tidy(() => attention(qt, kt, vt, h, weights));
      expect(got.shape).toEqual([B, Lq, h * dv]);
      expect(relMaxDiff(await got.data(), refAttention(q, k, v, B, Lq, Lk, h, d, dv, softmax))).toBeLessThan(1e-5);
      // The gradient against the batched formulation, written independently of attention()'s paths.
      const loss = (f: (a: tf.Tensor3D, b: tf.Tensor3D, c: tf.Tensor3D) => tf.Tensor) => tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D), tf.range(0, B * Lq * h * dv).reshape([B, Lq, h * dv]))));
      const split = (t: tf.Tensor3D, w: number) => t.reshape([B, -1, h, w]).transpose([0, 2, 1, 3]);
      const batched = (a: tf.Tensor3D, b: tf.Tensor3D, c: tf.Tensor3D) => tf.matMul(weights(tf.matMul(split(a, d), split(b, d), false, true)), split(c, dv)).transpose([0, 2, 1, 3]).reshape([B, Lq, h * dv]);
      const g1 = loss((a, b, c) => attention(a, b, c, h, weights))([qt, kt, vt]);
      const g2 = loss(batched)([qt, kt, vt]);
      for (let i = 0; i < 3; i++) expect(relMaxDiff(await g1[i].data(), await g2[i].data())).toBeLessThan(1e-4);
      tf.dispose([got, qt, kt, vt, ...g1, ...g2]);
    }
  });

  it('matMul2d has the gradients of tf.matMul', async () => {
    await useBackend(backend);
    const a = tf.tensor2d(rand(12, 4), [3, 4]);
    const b = tf.tensor2d(rand(20, 5), [4, 5]);
    const w = tf.tensor2d(rand(15, 6), [3, 5]);
    const loss = (f: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor2D) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D, y as tf.Tensor2D), w));
    const [ga, gb] = tf.grads(loss(matMul2d))([a, b]);
    const [ra, rb] = tf.grads(loss((x, y) => tf.matMul(x, y)))([a, b]);
    expect(relMaxDiff(await ga.data(), await ra.data())).toBeLessThan(1e-6);
    expect(relMaxDiff(await gb.data(), await rb.data())).toBeLessThan(1e-6);
    tf.dispose([a, b, w, ga, gb, ra, rb]);
  });

  it('layerNorm, exact GELU, cosine similarity and L2 normalisation follow torch', async () => {
    await useBackend(backend);
    const x = [1, 2, 4, -3];
    const mean = 1;
    const std = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / 4 + 1e-6);
    const ln = tf.tidy(() => layerNorm(tf.tensor2d(x, [1, 4]), { g: tf.tensor1d([1, 2, 1, 1]), b: tf.tensor1d([0, 0, 0, 0.5]) }, 1e-6));
    const want = x.map((v, i) => ((v - mean) / std) * (i === 1 ? 2 : 1) + (i === 3 ? 0.5 : 0));
    expect(relMaxDiff(await ln.data(), want)).toBeLessThan(1e-6);
    // 0.5·x·(1 + erf(x/√2)) in float64 — the erf form of torch.nn.GELU(), not the tanh one.
    const g = tf.tidy(() => gelu(tf.tensor1d([-1, 0.5, 1, 3])));
    expect(relMaxDiff(await g.data(), [-0.15865525393145707, 0.34573123063700656, 0.8413447460685429, 2.99595030590511])).toBeLessThan(1e-6);
    // Zero vectors give 0, not NaN, as torch's eps clamps do.
    const cos = tf.tidy(() => cosineSimilarity(tf.tensor2d([[3, 4], [0, 0]]), tf.tensor2d([[4, 3], [1, 1]]), 1));
    expect(Array.from(await cos.data())).toEqual([expect.closeTo(0.96, 6), 0]);
    const n = tf.tidy(() => l2Normalize(tf.tensor2d([[3, 4], [0, 0]])));
    expect(Array.from(await n.data())).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6), 0, 0]);
    tf.dispose([ln, g, cos, n]);
  });
});
