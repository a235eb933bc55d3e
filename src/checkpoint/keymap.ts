import { CheckpointError } from '../errors.ts';
import type { HostTensor, TensorMap } from '../types.ts';

/**
 * Published checkpoint layouts we read:
 * - `inp-former`: the official INP-Former model.pth (official names already),
 * - `dinov2`: the official DINOv2 `dinov2_vit{s,b,l}14[_reg4]_pretrain.pth` (encoder names without `encoder.`),
 * - `hf-dinov2`: Hugging Face `facebook/dinov2-*` safetensors (Dinov2Model / Dinov2WithRegistersModel names).
 */
export type CheckpointFormat = 'inp-former' | 'dinov2' | 'hf-dinov2';

/**
 * Wrappers that prefix every key: DataParallel (`module.`), HF task models (`dinov2.`), Lightning-style `model.`,
 * and our own encoder-only folders (`encoder.`).
 */
const WRAPPER_PREFIXES = ['', 'module.', 'dinov2.', 'model.', 'encoder.'];

/** A classifier on top of an HF backbone (Dinov2ForImageClassification) is not part of the encoder. */
const HF_CLASSIFIER = /^classifier\./;

function identify(keys: ReadonlySet<string>, p: string): CheckpointFormat | undefined {
  if (keys.has(`${p}prototype_token`)) return 'inp-former';
  if (keys.has(`${p}patch_embed.proj.weight`) && keys.has(`${p}blocks.0.attn.qkv.weight`)) return 'dinov2';
  if (keys.has(`${p}embeddings.patch_embeddings.projection.weight`)) return 'hf-dinov2';
  return undefined;
}

/** Which published layout a state dict follows, from its keys, with any wrapper prefix removed. */
export function detectFormat(t: TensorMap, where: string): { format: CheckpointFormat; tensors: TensorMap } {
  const keys = new Set(t.keys());
  for (const prefix of WRAPPER_PREFIXES) {
    const format = identify(keys, prefix);
    if (!format) continue;
    if (!prefix) return { format, tensors: t };
    const out: TensorMap = new Map();
    for (const [k, v] of t) {
      if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
      else if (!(format === 'hf-dinov2' && HF_CLASSIFIER.test(k))) {
        throw new CheckpointError(`${where}: ${k}`, `unexpected tensor outside the "${prefix}" prefix that every other key has`);
      }
    }
    return { format, tensors: out };
  }
  const sample = [...t.keys()].slice(0, 4).join(', ');
  throw new CheckpointError(where, `not an INP-Former, DINOv2 or Hugging Face DINOv2 checkpoint (first keys: ${sample || 'none'})`);
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
const HF_QKV = /^encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)$/;

type QkvParts = Partial<Record<'query' | 'key' | 'value', HostTensor>>;

/** HF's separate query/key/value → DINOv2's fused qkv: [q | k | v] along the output axis (axis 0). */
function fuseQkv(parts: QkvParts, where: string): HostTensor {
  const { query: q, key: k, value: v } = parts;
  if (!q || !k || !v) throw new CheckpointError(where, 'query, key and value must all be present');
  if (![k, v].every((x) => x.shape.join() === q.shape.join())) {
    throw new CheckpointError(where, `query [${q.shape}], key [${k.shape}] and value [${v.shape}] must have one shape`);
  }
  if (![q, k, v].every((x) => x.data instanceof Float32Array)) throw new CheckpointError(where, 'query, key and value must be float tensors');
  const n = q.data.length;
  const data = new Float32Array(3 * n);
  data.set(q.data as Float32Array, 0);
  data.set(k.data as Float32Array, n);
  data.set(v.data as Float32Array, 2 * n);
  return { dtype: q.dtype, shape: [3 * q.shape[0], ...q.shape.slice(1)], data };
}

/** Encoder tensors in the official DINOv2 naming (no `encoder.` prefix), in the HF file's order. */
function hfToDinov2(t: TensorMap, where: string): TensorMap {
  const out: TensorMap = new Map();
  const qkv = new Map<string, QkvParts>();
  for (const [k, v] of t) {
    const m = HF_QKV.exec(k);
    if (m) {
      const key = `blocks.${m[1]}.attn.qkv.${m[3]}`;
      // Reserve the fused key's slot where the first of q/k/v appears, so the order follows the file.
      if (!qkv.has(key)) { qkv.set(key, {}); out.set(key, v); }
      qkv.get(key)![m[2] as 'query' | 'key' | 'value'] = v;
      continue;
    }
    const rule = HF_RULES.find(([re]) => re.test(k));
    if (!rule) throw new CheckpointError(`${where}: ${k}`, 'unexpected tensor in a Hugging Face DINOv2 checkpoint (SwiGLU / giant models are not supported)');
    out.set(k.replace(rule[0], rule[1]), v);
  }
  for (const [key, parts] of qkv) out.set(key, fuseQkv(parts, `${where}: ${key}`));
  return out;
}

/**
 * Renames a checkpoint's tensors to official INP-Former names: encoder tensors under `encoder.`, the head
 * (prototype_token, bottleneck, aggregation, decoder) at the top level. Tensors are shared, not copied,
 * except HF's q/k/v, which are fused.
 */
export function toOfficialKeys(t: TensorMap, where: string): { format: CheckpointFormat; tensors: TensorMap } {
  const { format, tensors } = detectFormat(t, where);
  if (format === 'inp-former') return { format, tensors };
  const enc = format === 'hf-dinov2' ? hfToDinov2(tensors, where) : tensors;
  return { format, tensors: new Map([...enc].map(([k, v]) => [`encoder.${k}`, v])) };
}
