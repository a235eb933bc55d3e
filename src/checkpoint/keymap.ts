import { CheckpointError } from '../errors.ts';
import type { HostTensor, TensorMap } from '../types.ts';

export type CheckpointFormat = 'inp-former' | 'dinov2' | 'hf-dinov2';

function stripPrefix(t: TensorMap, prefix: string): TensorMap {
  if (![...t.keys()].every((k) => k.startsWith(prefix))) return t;
  return new Map([...t].map(([k, v]) => [k.slice(prefix.length), v]));
}

/** Which published layout a state dict follows, from its keys (after DataParallel/HF wrappers are removed). */
export function detectFormat(t: TensorMap, where: string): { format: CheckpointFormat; tensors: TensorMap } {
  for (const prefix of ['', 'module.', 'dinov2.', 'model.']) {
    const s = prefix ? stripPrefix(t, prefix) : t;
    if (s.has('prototype_token')) return { format: 'inp-former', tensors: s };
    if (s.has('patch_embed.proj.weight') && s.has('blocks.0.attn.qkv.weight')) return { format: 'dinov2', tensors: s };
    if (s.has('embeddings.patch_embeddings.projection.weight')) return { format: 'hf-dinov2', tensors: s };
  }
  const sample = [...t.keys()].slice(0, 4).join(', ');
  throw new CheckpointError(where, `not an INP-Former, DINOv2 or Hugging Face DINOv2 checkpoint (first keys: ${sample})`);
}

const HF_RULES: Array<[RegExp, string]> = [
  [/^embeddings\.cls_token$/, 'cls_token'],
  [/^embeddings\.mask_token$/, 'mask_token'],
  [/^embeddings\.position_embeddings$/, 'pos_embed'],
  [/^embeddings\.register_tokens$/, 'register_tokens'],
  [/^embeddings\.patch_embeddings\.projection\.(weight|bias)$/, 'patch_embed.proj.$1'],
  [/^encoder\.layer\.(\d+)\.norm([12])\.(weight|bias)$/, 'blocks.$1.norm$2.$3'],
  [/^encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)$/, 'blocks.$1.attn.proj.$2'],
  [/^encoder\.layer\.(\d+)\.layer_scale([12])\.lambda1$/, 'blocks.$1.ls$2.gamma'],
  [/^encoder\.layer\.(\d+)\.mlp\.(fc[12])\.(weight|bias)$/, 'blocks.$1.mlp.$2.$3'],
  [/^layernorm\.(weight|bias)$/, 'norm.$1'],
];

/** Concatenates HF's separate query/key/value into DINOv2's fused qkv (q | k | v along the output axis). */
function fuseQkv(q: HostTensor, k: HostTensor, v: HostTensor): HostTensor {
  const data = new Float32Array(q.data.length * 3);
  data.set(q.data as Float32Array, 0);
  data.set(k.data as Float32Array, q.data.length);
  data.set(v.data as Float32Array, 2 * q.data.length);
  return { dtype: 'F32', shape: [q.shape[0] * 3, ...q.shape.slice(1)], data };
}

/** Encoder tensors in the official DINOv2 naming (no `encoder.` prefix). */
function hfToDinov2(t: TensorMap, where: string): TensorMap {
  const out: TensorMap = new Map();
  const qkv = new Map<string, Partial<Record<'query' | 'key' | 'value', HostTensor>>>();
  for (const [k, v] of t) {
    const m = /^encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)$/.exec(k);
    if (m) {
      const key = `blocks.${m[1]}.attn.qkv.${m[3]}`;
      qkv.set(key, { ...qkv.get(key), [m[2]]: v });
      continue;
    }
    const rule = HF_RULES.find(([re]) => re.test(k));
    if (!rule) throw new CheckpointError(`${where}: ${k}`, 'unexpected tensor in a Hugging Face DINOv2 checkpoint');
    out.set(k.replace(rule[0], rule[1]), v);
  }
  for (const [key, parts] of qkv) {
    if (!parts.query || !parts.key || !parts.value) throw new CheckpointError(`${where}: ${key}`, 'query, key and value must all be present');
    out.set(key, fuseQkv(parts.query, parts.key, parts.value));
  }
  return out;
}

/** Official INP-Former names: encoder tensors under `encoder.`, the head at the top level. */
export function toOfficialKeys(t: TensorMap, where: string): { format: CheckpointFormat; tensors: TensorMap } {
  const { format, tensors } = detectFormat(t, where);
  if (format === 'inp-former') return { format, tensors };
  const enc = format === 'hf-dinov2' ? hfToDinov2(tensors, where) : tensors;
  return { format, tensors: new Map([...enc].map(([k, v]) => [`encoder.${k}`, v])) };
}
