import * as tf from '@tensorflow/tfjs';
import { attention, layerNorm, linear, mlp, type Linear, type Mlp, type Norm } from '../runtime/ops.ts';
import type { VitEncoderConfig } from '../types.ts';
import { resamplePosEmbed } from './pos-embed.ts';

export interface VitBlockWeights {
  norm1: Norm; qkv: Linear; proj: Linear; ls1: tf.Tensor1D;
  norm2: Norm; mlp: Mlp; ls2: tf.Tensor1D;
}

/** The frozen DINOv2 encoder, only the blocks that run (0..max(targetLayers)). */
export interface EncoderWeights {
  /** Patch embedding as a matMul: [3·p·p, C], rows ordered (channel, ky, kx) like the OIHW kernel. */
  patch: Linear;
  cls: tf.Tensor1D;
  /** [R, C], or null without registers. */
  registers: tf.Tensor2D | null;
  /** Stored [1 + G², C] table, kept on the host: it is resampled per patch grid. */
  posTable: Float32Array;
  blocks: VitBlockWeights[];
}

/**
 * The cls row plus the resampled patch rows as a [1 + gh·gw, C] tensor, one per grid: the bicubic resample runs
 * on the host, so it is done once per input size, not per image.
 */
export class PosEmbedCache {
  private readonly cache = new Map<string, tf.Tensor2D>();
  constructor(private readonly table: Float32Array, private readonly cfg: VitEncoderConfig) {}

  get(gh: number, gw: number): tf.Tensor2D {
    const key = `${gh}x${gw}`;
    let t = this.cache.get(key);
    if (!t) {
      const C = this.cfg.embedDim;
      const data = resamplePosEmbed(this.table, C, gh, gw, this.cfg.interpolateOffset);
      // Kept: the cache outlives the tidy scope that first asks for a grid.
      t = tf.keep(tf.tensor2d(data, [1 + gh * gw, C]));
      this.cache.set(key, t);
    }
    return t;
  }

  dispose(): void {
    for (const t of this.cache.values()) t.dispose();
    this.cache.clear();
  }
}

/**
 * The stride-p conv as patchify + matMul: NCHW [B,3,H,W] → [B·gh·gw, 3·p·p] rows ordered (channel, ky, kx) like
 * the OIHW kernel. A 2-D matMul is XNNPACK-fast on wasm and has gradients everywhere (wasm has no conv filter
 * gradient). Transposes stay at rank ≤ 5.
 */
function patchify(x: tf.Tensor4D, p: number): tf.Tensor2D {
  const [B, Cin, H, W] = x.shape;
  const gh = H / p;
  const gw = W / p;
  return tf.tidy(() => x.reshape([B * Cin, gh, p, gw, p]).transpose([0, 1, 3, 2, 4])
    .reshape([B, Cin, gh * gw, p * p]).transpose([0, 2, 1, 3]).reshape([B * gh * gw, Cin * p * p]) as tf.Tensor2D);
}

/** prepare_tokens: patch embed, cls, positional table, then registers after cls (they get no position). */
export function prepareTokens(x: tf.Tensor4D, w: EncoderWeights, cfg: VitEncoderConfig, pos: PosEmbedCache): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, , H, W] = x.shape;
    const gh = H / cfg.patchSize;
    const gw = W / cfg.patchSize;
    const C = cfg.embedDim;
    const table = pos.get(gh, gw);
    const patches = tf.add(linear(patchify(x, cfg.patchSize), w.patch).reshape([B, gh * gw, C]), table.slice([1, 0], [-1, -1]));
    const cls = tf.add(w.cls, table.slice([0, 0], [1, -1])).reshape([1, 1, C]);
    const parts: tf.Tensor[] = [tf.tile(cls, [B, 1, 1])];
    if (w.registers) parts.push(tf.tile(w.registers.expandDims(0), [B, 1, 1]));
    parts.push(patches);
    return tf.concat(parts, 1) as tf.Tensor3D;
  });
}

/** Pre-norm block with LayerScale: x += γ1·Attn(LN1 x); x += γ2·MLP(LN2 x). Softmax attention, scale d^−½. */
function block(x: tf.Tensor3D, b: VitBlockWeights, cfg: VitEncoderConfig): tf.Tensor3D {
  return tf.tidy(() => {
    const C = cfg.embedDim;
    const h = cfg.numHeads;
    const qkv = linear(layerNorm(x, b.norm1, cfg.lnEps), b.qkv) as tf.Tensor3D;
    const [q, k, v] = tf.split(qkv, 3, 2) as tf.Tensor3D[];
    const a = attention(tf.mul(q, 1 / Math.sqrt(C / h)), k, v, h, (s) => tf.softmax(s));
    const x1 = tf.add(x, tf.mul(linear(a, b.proj), b.ls1));
    return tf.add(x1, tf.mul(mlp(layerNorm(x1, b.norm2, cfg.lnEps), b.mlp), b.ls2)) as tf.Tensor3D;
  });
}

export interface EncoderOutput {
  /** Output of each tapped block, in `taps` order, cls and registers dropped: [B, gh·gw, C] each. */
  layers: tf.Tensor3D[];
  /** Patch grid [rows, cols]. */
  grid: [number, number];
  /** prepare_tokens output [B, 1 + R + N, C], only when asked for. */
  tokens?: tf.Tensor3D;
}

/**
 * Runs blocks 0..max(taps) (later blocks cannot affect the taps) and returns the raw residual stream of the
 * tapped blocks — no final norm, as INP-Former uses them. Caller disposes every returned tensor.
 */
export function dinov2Features(
  x: tf.Tensor4D, w: EncoderWeights, cfg: VitEncoderConfig, pos: PosEmbedCache, taps: readonly number[],
  opts: { keepTokens?: boolean } = {},
): EncoderOutput {
  const [, , H, W] = x.shape;
  const p = cfg.patchSize;
  if (H % p || W % p) throw new Error(`input ${H}×${W} is not a multiple of the ${p}-pixel patch`);
  const last = Math.max(...taps);
  if (last >= w.blocks.length) throw new Error(`tapped block ${last} was not loaded (${w.blocks.length} blocks)`);
  const skip = 1 + cfg.registerTokens;
  const tokens = prepareTokens(x, w, cfg, pos);
  const byBlock = new Map<number, tf.Tensor3D>();
  let t = tokens;
  for (let i = 0; i <= last; i++) {
    const next = block(t, w.blocks[i], cfg);
    if (t !== tokens || !opts.keepTokens) t.dispose();
    t = next;
    if (taps.includes(i)) byBlock.set(i, tf.tidy(() => t.slice([0, skip, 0], [-1, -1, -1])));
  }
  t.dispose();
  return {
    layers: taps.map((i, n) => (taps.indexOf(i) === n ? byBlock.get(i)! : byBlock.get(i)!.clone())),
    grid: [H / p, W / p],
    ...(opts.keepTokens ? { tokens } : {}),
  };
}
