import { CheckpointError } from '../errors.ts';
import type { InpFormerConfig, TensorMap, VitEncoderConfig } from '../types.ts';
import { inferInpFormerConfig, inferVitConfig, type ConfigOverrides } from './infer-config.ts';
import { toOfficialKeys, type CheckpointFormat } from './keymap.ts';
import { readPth } from './pth.ts';
import { readSafetensors } from './safetensors.ts';

/** Every tensor of an official DINOv2 encoder state dict (under `prefix`) and its shape, in state-dict order. */
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

/** The trainable head's tensors (official names) and shapes, in state-dict order. */
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

/**
 * Every key of an official INP-Former model.pth and its shape, including what the forward pass never reads
 * (encoder.mask_token, encoder.norm.*, encoder blocks past the last tap): what `convert` writes and checks.
 */
export function expectedShapes(c: InpFormerConfig): Map<string, number[]> {
  const head = expectedHeadShapes(c);
  // A CNN encoder's torchvision tensors are checked by the encoder itself (createResNet names what is missing).
  if (c.encoder.kind !== 'dinov2') return head;
  // Official order: the INPs (registered first), the encoder, then the rest of the head.
  const out = new Map([['prototype_token', head.get('prototype_token')!]]);
  for (const part of [expectedEncoderShapes(c.encoder), head]) for (const [k, v] of part) out.set(k, v);
  return out;
}

const MAX_LISTED = 5;

function listed(xs: string[]): string {
  return xs.slice(0, MAX_LISTED).join(', ') + (xs.length > MAX_LISTED ? ` and ${xs.length - MAX_LISTED} more` : '');
}

/**
 * Strict loading: missing, unexpected and mis-shaped tensors are reported together (up to 5 of each), then any
 * NaN/Inf value. The official loader uses strict=False for DINOv2 and would silently run with random weights.
 */
export function validateTensors(t: TensorMap, expected: Map<string, number[]>, where: string): void {
  const missing = [...expected.keys()].filter((k) => !t.has(k));
  const unexpected = [...t.keys()].filter((k) => !expected.has(k));
  const misShaped = [...expected].filter(([k, shape]) => t.has(k) && t.get(k)!.shape.join() !== shape.join())
    .map(([k, shape]) => `${k}: has shape [${t.get(k)!.shape}], expected [${shape}]`);
  const problems = [
    missing.length ? `missing tensor${missing.length > 1 ? 's' : ''} ${listed(missing)}` : '',
    unexpected.length ? `unexpected tensor${unexpected.length > 1 ? 's' : ''} ${listed(unexpected)}` : '',
    misShaped.length ? listed(misShaped) : '',
  ].filter(Boolean);
  if (problems.length) throw new CheckpointError(where, problems.join('; '));
  checkFinite(t, where);
}

/** Throws on the first NaN or ±Inf in a float tensor, naming the tensor and the element: such a model maps to NaN. */
export function checkFinite(t: TensorMap, where: string): void {
  for (const [k, v] of t) {
    const d = v.data;
    if (!(d instanceof Float32Array || d instanceof Float64Array)) continue;
    for (let i = 0; i < d.length; i++) {
      // x - x is 0 for finite x and NaN for ±Inf/NaN: one comparison per element on 100M+ values.
      if (d[i] - d[i] !== 0) throw new CheckpointError(`${where}: ${k}`, `contains ${d[i]} at element ${i}`);
    }
  }
}

/** `validateTensors` against everything an official INP-Former state dict holds for `config`. */
export function validateStateDict(t: TensorMap, config: InpFormerConfig, where: string): void {
  if (config.encoder.kind !== 'dinov2') {
    // Head tensors exactly; the encoder's own (torchvision) tensors may ride along under `encoder.`.
    validateTensors(new Map([...t].filter(([k]) => !k.startsWith('encoder.'))), expectedShapes(config), where);
    return;
  }
  validateTensors(t, expectedShapes(config), where);
}

export type LoadedCheckpoint =
  | { kind: 'inp-former'; format: CheckpointFormat; config: InpFormerConfig; tensors: TensorMap }
  | { kind: 'encoder'; format: CheckpointFormat; encoder: VitEncoderConfig; tensors: TensorMap };

const isZip = (b: Uint8Array) => b.byteLength >= 2 && b[0] === 0x50 && b[1] === 0x4b;
/** safetensors: u64 header length, then a JSON object. */
const isSafetensors = (b: Uint8Array) => b.byteLength >= 9 && b[8] === 0x7b;

/**
 * Reads a .pth (zip magic "PK") or .safetensors checkpoint, maps its keys to official names, infers the config
 * from shapes (`overrides` win) and checks every tensor. A bare DINOv2 checkpoint gives `kind: 'encoder'`.
 * `fileName` names the file in every error.
 */
export function loadCheckpoint(bytes: Uint8Array, fileName: string, overrides: ConfigOverrides = {}): LoadedCheckpoint {
  let raw: TensorMap;
  if (bytes.byteLength === 0) throw new CheckpointError(fileName, 'file is empty');
  else if (isZip(bytes)) raw = readPth(bytes, fileName);
  else if (isSafetensors(bytes)) raw = readSafetensors(bytes, fileName).tensors;
  else if (bytes[0] === 0x80) raw = readPth(bytes, fileName); // legacy torch.save: readPth explains
  else throw new CheckpointError(fileName, 'neither a PyTorch .pth (zip) nor a .safetensors checkpoint');
  const { format, tensors } = toOfficialKeys(raw, fileName);
  if (format === 'inp-former') {
    const config = inferInpFormerConfig(tensors, fileName, overrides);
    validateStateDict(tensors, config, fileName);
    return { kind: 'inp-former', format, config, tensors };
  }
  const encoder = inferVitConfig(tensors, fileName, overrides.encoder);
  validateTensors(tensors, expectedEncoderShapes(encoder), fileName);
  return { kind: 'encoder', format, encoder, tensors };
}
