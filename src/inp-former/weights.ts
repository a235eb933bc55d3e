import * as tf from '@tensorflow/tfjs';
import type { Linear, Mlp, Norm } from '../runtime/ops.ts';
import type { EncoderWeights } from '../encoder/dinov2.ts';
import type { HostTensor, InpFormerConfig, TensorMap, VitEncoderConfig } from '../types.ts';

export type { EncoderWeights };

export interface CrossBlockParams { norm1: Norm; q: Linear; kv: Linear; proj: Linear; norm2: Norm; mlp: Mlp }
export interface DecoderBlockParams extends CrossBlockParams {
  /** Per-head scale of the ReLU-cosine attention, [h] (stored as [h, 1, 1]). */
  learnScale: tf.Tensor1D;
}

/**
 * The trainable head as a plain tree of tensors: a trainer turns it into variables with
 * `mapParams(head, (t) => tf.variable(t))` and feeds the result to the same forward functions.
 * Linear weights are [in, out] (transposed from PyTorch's [out, in]).
 */
export interface HeadParams {
  /** INP tokens T, [M, C] (`prototype_token`). */
  prototypes: tf.Tensor2D;
  bottleneck: Mlp;
  extractor: CrossBlockParams;
  decoder: DecoderBlockParams[];
}


function host(tensors: TensorMap, key: string): HostTensor {
  const t = tensors.get(key);
  if (!t) throw new Error(`weight ${key} is missing`);
  return t;
}

function f32(t: HostTensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>, Number);
}

function upload(tensors: TensorMap, key: string, shape?: number[]): tf.Tensor {
  const t = host(tensors, key);
  return tf.tensor(f32(t), shape ?? t.shape, 'float32');
}

const vec = (t: TensorMap, key: string) => tf.tensor1d(f32(host(t, key)), 'float32');

/** PyTorch Linear weight [out, in] → [in, out] once, so forward passes never transpose. */
function linear(tensors: TensorMap, prefix: string): Linear {
  return {
    w: tf.tidy(() => upload(tensors, `${prefix}.weight`).transpose() as tf.Tensor2D),
    b: vec(tensors, `${prefix}.bias`),
  };
}

const norm = (t: TensorMap, p: string): Norm => ({ g: vec(t, `${p}.weight`), b: vec(t, `${p}.bias`) });
const mlp = (t: TensorMap, p: string): Mlp => ({ fc1: linear(t, `${p}.fc1`), fc2: linear(t, `${p}.fc2`) });

/** Encoder weights under `encoder.` (checkpoint/keymap.ts brings DINOv2 and Hugging Face names to this layout). */
export function uploadEncoder(tensors: TensorMap, e: VitEncoderConfig, targetLayers: readonly number[]): EncoderWeights {
  const prefix = 'encoder.';
  const C = e.embedDim;
  const k = 3 * e.patchSize * e.patchSize;
  const lastBlock = Math.max(...targetLayers);
  if (lastBlock >= e.depth) throw new Error(`target layer ${lastBlock} is beyond the encoder's ${e.depth} blocks`);
  return {
    // OIHW [C, 3, p, p] flattens to [C, 3·p·p]; its transpose multiplies patches flattened (channel, ky, kx).
    patch: { w: tf.tidy(() => upload(tensors, `${prefix}patch_embed.proj.weight`, [C, k]).transpose() as tf.Tensor2D), b: vec(tensors, `${prefix}patch_embed.proj.bias`) },
    cls: vec(tensors, `${prefix}cls_token`),
    registers: e.registerTokens > 0 ? (upload(tensors, `${prefix}register_tokens`, [e.registerTokens, C]) as tf.Tensor2D) : null,
    posTable: f32(host(tensors, `${prefix}pos_embed`)),
    // Blocks after the last tapped layer never run, so they are not uploaded.
    blocks: Array.from({ length: lastBlock + 1 }, (_, i) => {
      const p = `${prefix}blocks.${i}`;
      return {
        norm1: norm(tensors, `${p}.norm1`), qkv: linear(tensors, `${p}.attn.qkv`), proj: linear(tensors, `${p}.attn.proj`),
        ls1: vec(tensors, `${p}.ls1.gamma`),
        norm2: norm(tensors, `${p}.norm2`), mlp: mlp(tensors, `${p}.mlp`), ls2: vec(tensors, `${p}.ls2.gamma`),
      };
    }),
  };
}

function crossBlock(tensors: TensorMap, p: string): CrossBlockParams {
  return {
    norm1: norm(tensors, `${p}.norm1`), q: linear(tensors, `${p}.attn.q`), kv: linear(tensors, `${p}.attn.kv`),
    proj: linear(tensors, `${p}.attn.proj`), norm2: norm(tensors, `${p}.norm2`), mlp: mlp(tensors, `${p}.mlp`),
  };
}

/** Head weights under their official names (`prototype_token`, `bottleneck.0`, `aggregation.0`, `decoder.N`). */
export function uploadHead(tensors: TensorMap, config: InpFormerConfig): HeadParams {
  return {
    prototypes: upload(tensors, 'prototype_token', [config.inpCount, config.embedDim]) as tf.Tensor2D,
    bottleneck: mlp(tensors, 'bottleneck.0'),
    extractor: crossBlock(tensors, 'aggregation.0'),
    decoder: Array.from({ length: config.decoderDepth }, (_, i) => ({
      ...crossBlock(tensors, `decoder.${i}`),
      learnScale: vec(tensors, `decoder.${i}.attn.learn_scale`),
    })),
  };
}

/** Every tensor inside a weights tree, in a fixed order (for dispose and variable lists). */
export function paramTensors(tree: unknown): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const walk = (v: unknown) => {
    if (v instanceof tf.Tensor) out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) Object.values(v).forEach(walk);
  };
  walk(tree);
  return out;
}

/** The same tree with every tensor replaced by fn(tensor), e.g. tf.variable for training. */
export function mapParams<T>(tree: T, fn: (t: tf.Tensor) => tf.Tensor): T {
  const walk = (v: unknown): unknown => {
    if (v instanceof tf.Tensor) return fn(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(tree) as T;
}

export function disposeParams(tree: unknown): void {
  for (const t of paramTensors(tree)) t.dispose();
}
