import * as tf from '@tensorflow/tfjs';
import type { Linear, Mlp, Norm } from '../runtime/ops.ts';
import type { HostTensor, InpFormerConfig, TensorMap } from '../types.ts';

export interface VitBlockParams {
  norm1: Norm; qkv: Linear; proj: Linear; ls1: tf.Tensor1D;
  norm2: Norm; mlp: Mlp; ls2: tf.Tensor1D;
}

export interface VitParams {
  /** Patch embedding as a matMul: [3·p·p, C], rows ordered (channel, ky, kx) like the OIHW kernel. */
  patch: Linear;
  cls: tf.Tensor3D;
  registers: tf.Tensor3D | null;
  /** Stored table on the host; resampled per grid on demand. */
  posTable: Float32Array;
  blocks: VitBlockParams[];
}

export interface CrossBlockParams { norm1: Norm; q: Linear; kv: Linear; proj: Linear; norm2: Norm; mlp: Mlp }
export interface DecoderBlockParams extends CrossBlockParams { learnScale: tf.Tensor1D }

/** The trainable part: what a trainer turns into variables. Keys follow the official module names. */
export interface HeadParams {
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
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
}

export function param(tensors: TensorMap, key: string): tf.Tensor {
  const t = host(tensors, key);
  return tf.tensor(f32(t), t.shape, 'float32');
}

/** PyTorch Linear weight [out, in] -> [in, out] once, so forward passes never transpose. */
export function linearParam(tensors: TensorMap, prefix: string): Linear {
  return tf.tidy(() => ({
    w: (param(tensors, `${prefix}.weight`) as tf.Tensor2D).transpose() as tf.Tensor2D,
    b: param(tensors, `${prefix}.bias`) as tf.Tensor1D,
  }));
}

const norm = (t: TensorMap, p: string): Norm => ({ g: param(t, `${p}.weight`) as tf.Tensor1D, b: param(t, `${p}.bias`) as tf.Tensor1D });
const mlpParam = (t: TensorMap, p: string): Mlp => ({ fc1: linearParam(t, `${p}.fc1`), fc2: linearParam(t, `${p}.fc2`) });

/** Encoder weights under `prefix` (official names: `encoder.` inside an INP-Former state dict). */
export function vitParams(tensors: TensorMap, config: InpFormerConfig, prefix = 'encoder.'): VitParams {
  const e = config.encoder;
  const lastBlock = Math.max(...config.targetLayers);
  const pw = host(tensors, `${prefix}patch_embed.proj.weight`);
  return {
    patch: tf.tidy(() => ({
      w: tf.tensor2d(f32(pw), [e.embedDim, 3 * e.patchSize * e.patchSize]).transpose() as tf.Tensor2D,
      b: param(tensors, `${prefix}patch_embed.proj.bias`) as tf.Tensor1D,
    })),
    cls: param(tensors, `${prefix}cls_token`) as tf.Tensor3D,
    registers: e.registerTokens > 0 ? (param(tensors, `${prefix}register_tokens`) as tf.Tensor3D) : null,
    posTable: f32(host(tensors, `${prefix}pos_embed`)),
    // Blocks after the last tapped layer never run, so they are not uploaded.
    blocks: Array.from({ length: lastBlock + 1 }, (_, i) => {
      const p = `${prefix}blocks.${i}`;
      return {
        norm1: norm(tensors, `${p}.norm1`), qkv: linearParam(tensors, `${p}.attn.qkv`), proj: linearParam(tensors, `${p}.attn.proj`),
        ls1: param(tensors, `${p}.ls1.gamma`) as tf.Tensor1D,
        norm2: norm(tensors, `${p}.norm2`), mlp: mlpParam(tensors, `${p}.mlp`), ls2: param(tensors, `${p}.ls2.gamma`) as tf.Tensor1D,
      };
    }),
  };
}

function crossBlock(tensors: TensorMap, p: string): CrossBlockParams {
  return {
    norm1: norm(tensors, `${p}.norm1`), q: linearParam(tensors, `${p}.attn.q`), kv: linearParam(tensors, `${p}.attn.kv`),
    proj: linearParam(tensors, `${p}.attn.proj`), norm2: norm(tensors, `${p}.norm2`), mlp: mlpParam(tensors, `${p}.mlp`),
  };
}

export function headParams(tensors: TensorMap, config: InpFormerConfig): HeadParams {
  return {
    prototypes: param(tensors, 'prototype_token') as tf.Tensor2D,
    bottleneck: mlpParam(tensors, 'bottleneck.0'),
    extractor: crossBlock(tensors, 'aggregation.0'),
    decoder: Array.from({ length: config.decoderDepth }, (_, i) => ({
      ...crossBlock(tensors, `decoder.${i}`),
      learnScale: tf.tidy(() => param(tensors, `decoder.${i}.attn.learn_scale`).reshape([-1])) as tf.Tensor1D,
    })),
  };
}

/** Every tensor inside a params tree (for dispose and for variable lists). */
export function paramTensors(tree: unknown): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const walk = (v: unknown) => {
    if (v instanceof tf.Tensor) out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object' && !(v instanceof Float32Array)) Object.values(v).forEach(walk);
  };
  walk(tree);
  return out;
}

export function disposeParams(tree: unknown): void {
  for (const t of paramTensors(tree)) t.dispose();
}
