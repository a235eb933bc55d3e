import { CheckpointError } from '../errors.ts';
import type { InpFormerConfig, TensorMap, VitEncoderConfig } from '../types.ts';
import { inferInpFormerConfig, inferVitConfig, type ConfigOverrides } from './infer-config.ts';
import { toOfficialKeys, type CheckpointFormat } from './keymap.ts';
import { readPth } from './pth.ts';
import { readSafetensors } from './safetensors.ts';

/** Every tensor of an official DINOv2 encoder state dict (under `prefix`) and its shape. */
export function expectedEncoderShapes(e: VitEncoderConfig, prefix = 'encoder.'): Map<string, number[]> {
  const C = e.embedDim;
  const H = Math.round(C * e.mlpRatio);
  const s = new Map<string, number[]>([
    [`${prefix}cls_token`, [1, 1, C]],
    [`${prefix}pos_embed`, [1, 1 + e.posGridSize ** 2, C]],
  ]);
  if (e.registerTokens > 0) s.set(`${prefix}register_tokens`, [1, e.registerTokens, C]);
  s.set(`${prefix}mask_token`, [1, C]);
  s.set(`${prefix}patch_embed.proj.weight`, [C, 3, e.patchSize, e.patchSize]);
  s.set(`${prefix}patch_embed.proj.bias`, [C]);
  for (let i = 0; i < e.depth; i++) {
    const b = `${prefix}blocks.${i}`;
    for (const [k, shape] of [
      ['norm1.weight', [C]], ['norm1.bias', [C]], ['attn.qkv.weight', [3 * C, C]], ['attn.qkv.bias', [3 * C]],
      ['attn.proj.weight', [C, C]], ['attn.proj.bias', [C]], ['ls1.gamma', [C]], ['norm2.weight', [C]], ['norm2.bias', [C]],
      ['mlp.fc1.weight', [H, C]], ['mlp.fc1.bias', [H]], ['mlp.fc2.weight', [C, H]], ['mlp.fc2.bias', [C]], ['ls2.gamma', [C]],
    ] as Array<[string, number[]]>) s.set(`${b}.${k}`, shape);
  }
  s.set(`${prefix}norm.weight`, [C]);
  s.set(`${prefix}norm.bias`, [C]);
  return s;
}

/** The trainable head's tensors (official names) and shapes. */
export function expectedHeadShapes(c: InpFormerConfig): Map<string, number[]> {
  const C = c.embedDim;
  const H = Math.round(C * c.mlpRatio);
  const s = new Map<string, number[]>([['prototype_token', [c.inpCount, C]]]);
  const mlp = (p: string) => {
    s.set(`${p}.fc1.weight`, [H, C]); s.set(`${p}.fc1.bias`, [H]); s.set(`${p}.fc2.weight`, [C, H]); s.set(`${p}.fc2.bias`, [C]);
  };
  mlp('bottleneck.0');
  const cross = (p: string, learnScale: boolean) => {
    s.set(`${p}.norm1.weight`, [C]); s.set(`${p}.norm1.bias`, [C]);
    if (learnScale) s.set(`${p}.attn.learn_scale`, [c.numHeads, 1, 1]);
    s.set(`${p}.attn.q.weight`, [C, C]); s.set(`${p}.attn.q.bias`, [C]);
    s.set(`${p}.attn.kv.weight`, [2 * C, C]); s.set(`${p}.attn.kv.bias`, [2 * C]);
    s.set(`${p}.attn.proj.weight`, [C, C]); s.set(`${p}.attn.proj.bias`, [C]);
    s.set(`${p}.norm2.weight`, [C]); s.set(`${p}.norm2.bias`, [C]);
    mlp(`${p}.mlp`);
  };
  cross('aggregation.0', false);
  for (let i = 0; i < c.decoderDepth; i++) cross(`decoder.${i}`, true);
  return s;
}

/** Full official INP-Former state dict: what model.pth holds and what `export` writes. */
export function expectedShapes(c: InpFormerConfig): Map<string, number[]> {
  return new Map([...expectedEncoderShapes(c.encoder), ...expectedHeadShapes(c)]);
}

/**
 * Strict loading: a missing, unexpected or mis-shaped tensor, or a NaN/Inf value, is an error that names it.
 * (The official loader uses strict=False for DINOv2 and would silently run with random weights.)
 */
export function validateTensors(t: TensorMap, expected: Map<string, number[]>, where: string): void {
  const list = (xs: string[]) => xs.slice(0, 5).join(', ') + (xs.length > 5 ? ` and ${xs.length - 5} more` : '');
  const missing = [...expected.keys()].filter((k) => !t.has(k));
  if (missing.length) throw new CheckpointError(where, `missing tensor${missing.length > 1 ? 's' : ''} ${list(missing)}`);
  const unexpected = [...t.keys()].filter((k) => !expected.has(k));
  if (unexpected.length) throw new CheckpointError(where, `unexpected tensor${unexpected.length > 1 ? 's' : ''} ${list(unexpected)}`);
  for (const [k, shape] of expected) {
    const got = t.get(k)!;
    if (got.shape.join(',') !== shape.join(',')) {
      throw new CheckpointError(`${where}: ${k}`, `has shape [${got.shape}], expected [${shape}]`);
    }
    const d = got.data;
    if (d instanceof Float32Array || d instanceof Float64Array) {
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i])) throw new CheckpointError(`${where}: ${k}`, `contains ${d[i]} at element ${i}`);
      }
    }
  }
}

export type LoadedCheckpoint =
  | { kind: 'inp-former'; format: CheckpointFormat; config: InpFormerConfig; tensors: TensorMap }
  | { kind: 'encoder'; format: CheckpointFormat; encoder: VitEncoderConfig; tensors: TensorMap };

/** Reads a .pth or .safetensors checkpoint (detected from its bytes), maps its keys, infers and checks the config. */
export function loadCheckpoint(bytes: Uint8Array, where: string, overrides: ConfigOverrides = {}): LoadedCheckpoint {
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b;
  const raw = isZip || bytes.length === 0 ? readPth(bytes, where) : readSafetensors(bytes, where).tensors;
  const { format, tensors } = toOfficialKeys(raw, where);
  if (format === 'inp-former') {
    const config = inferInpFormerConfig(tensors, where, overrides);
    validateTensors(tensors, expectedShapes(config), where);
    return { kind: 'inp-former', format, config, tensors };
  }
  const encoder = { ...inferVitConfig(tensors, where), ...overrides.encoder };
  validateTensors(tensors, expectedEncoderShapes(encoder), where);
  return { kind: 'encoder', format, encoder, tensors };
}
