import * as tf from '@tensorflow/tfjs';
import type { VitParams } from '../inp-former/params.ts';
import { attention, layerNorm, linear, mergeHeads, mlp, splitHeads } from '../runtime/ops.ts';
import type { VitEncoderConfig } from '../types.ts';
import { resamplePosEmbed } from './pos-embed.ts';

/** Patchify NCHW [B,3,H,W] into [B, gh·gw, 3·p·p] rows ordered (channel, ky, kx), matching the OIHW kernel. */
function patchify(x: tf.Tensor4D, p: number): tf.Tensor3D {
  const [B, Cin, H, W] = x.shape;
  const gh = H / p;
  const gw = W / p;
  return tf.tidy(() => x.reshape([B * Cin, gh, p, gw, p]).transpose([0, 1, 3, 2, 4])
    .reshape([B, Cin, gh * gw, p * p]).transpose([0, 2, 1, 3]).reshape([B, gh * gw, Cin * p * p]) as tf.Tensor3D);
}

/** The cls row plus the resampled patch rows, cached per grid because the resample is done on the host. */
export class PosEmbedCache {
  private cache = new Map<string, tf.Tensor2D>();
  constructor(private readonly table: Float32Array, private readonly cfg: VitEncoderConfig) {}
  get(gh: number, gw: number): tf.Tensor2D {
    const key = `${gh}x${gw}`;
    let t = this.cache.get(key);
    if (!t) {
      const C = this.cfg.embedDim;
      const data = resamplePosEmbed(this.table, C, gh, gw, this.cfg.interpolateOffset);
      // Kept: the cache outlives the tidy scope that first asks for a grid.
      t = tf.keep(tf.tensor2d(data, [data.length / C, C]));
      this.cache.set(key, t);
    }
    return t;
  }
  dispose(): void {
    for (const t of this.cache.values()) t.dispose();
    this.cache.clear();
  }
}

/** prepare_tokens: patch embed, cls, positional table, then registers after cls (they get no position). */
export function prepareTokens(x: tf.Tensor4D, p: VitParams, cfg: VitEncoderConfig, pos: PosEmbedCache): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, , H, W] = x.shape;
    const gh = H / cfg.patchSize;
    const gw = W / cfg.patchSize;
    const patches = linear(patchify(x, cfg.patchSize), p.patch);
    const table = pos.get(gh, gw);
    const clsTok = tf.add(p.cls.reshape([1, 1, -1]), table.slice([0, 0], [1, -1]));
    const body = tf.add(patches, table.slice([1, 0], [-1, -1]));
    const parts: tf.Tensor[] = [tf.tile(clsTok, [B, 1, 1])];
    if (p.registers) parts.push(tf.tile(p.registers, [B, 1, 1]));
    parts.push(body);
    return tf.concat(parts, 1) as tf.Tensor3D;
  });
}

function block(x: tf.Tensor3D, b: VitParams['blocks'][number], cfg: VitEncoderConfig): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, L, C] = x.shape;
    const h = cfg.numHeads;
    const qkv = linear(layerNorm(x, b.norm1, cfg.lnEps), b.qkv).reshape([B, L, 3, C]);
    const [q, k, v] = tf.split(qkv, 3, 2).map((t) => splitHeads(t.reshape([B, L, C]), h));
    const scale = 1 / Math.sqrt(C / h);
    const a = mergeHeads(attention(tf.mul(q, scale) as tf.Tensor4D, k, v, (s) => tf.softmax(s)));
    const x1 = tf.add(x, tf.mul(linear(a, b.proj), b.ls1));
    return tf.add(x1, tf.mul(mlp(layerNorm(x1, b.norm2, cfg.lnEps), b.mlp), b.ls2)) as tf.Tensor3D;
  });
}

/**
 * Runs blocks 0..max(taps) and returns the tapped residual-stream outputs (no final norm, as INP-Former uses
 * them) with cls and register tokens removed: each [B, gh·gw, C].
 */
export function dinov2Features(
  x: tf.Tensor4D, p: VitParams, cfg: VitEncoderConfig, pos: PosEmbedCache, taps: readonly number[],
  onTokens?: (t: tf.Tensor3D) => void,
): tf.Tensor3D[] {
  const [, , H, W] = x.shape;
  if (H % cfg.patchSize || W % cfg.patchSize) {
    throw new Error(`input ${H}×${W} is not a multiple of the ${cfg.patchSize}-pixel patch`);
  }
  const skip = 1 + cfg.registerTokens;
  const last = Math.max(...taps);
  const out: tf.Tensor3D[] = [];
  let t = prepareTokens(x, p, cfg, pos);
  onTokens?.(t);
  for (let i = 0; i <= last; i++) {
    const next = block(t, p.blocks[i], cfg);
    if (!onTokens || i > 0) t.dispose();
    t = next;
    if (taps.includes(i)) out.push(tf.tidy(() => t.slice([0, skip, 0], [-1, -1, -1])));
  }
  t.dispose();
  return out;
}
