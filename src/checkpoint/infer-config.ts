import { CheckpointError } from '../errors.ts';
import { cnnTokenDim, validateCnnEncoderConfig } from '../encoder/cnn-config.ts';
import type { EncoderConfig, InpFormerConfig, TensorMap, VitEncoderConfig } from '../types.ts';

/** DINOv2's heads all have 64 channels (vit_small 384/6, vit_base 768/12, vit_large 1024/16, giant 1536/24). */
const DINOV2_HEAD_DIM = 64;

function shapeOf(t: TensorMap, key: string, where: string, rank: number): number[] {
  const v = t.get(key);
  if (!v) throw new CheckpointError(`${where}: ${key}`, 'tensor is missing');
  if (v.shape.length !== rank) throw new CheckpointError(`${where}: ${key}`, `has shape [${v.shape}], expected ${rank} dimensions`);
  return v.shape;
}

/** Number of consecutive `${prefix}N.` modules from 0 (blocks, decoder layers). */
function countIndexed(t: TensorMap, prefix: string): number {
  const present = new Set<number>();
  for (const k of t.keys()) {
    if (!k.startsWith(prefix)) continue;
    const m = /^(\d+)\./.exec(k.slice(prefix.length));
    if (m) present.add(Number(m[1]));
  }
  let n = 0;
  while (present.has(n)) n++;
  return n;
}

/**
 * Encoder taps. The official scripts tap blocks 2..9 of a 12-block encoder and 4,6,…,18 of a 24-block one:
 * both are 8 taps starting at depth/6 with a step of depth/12. Other depths use the same rule, rounded; repeated
 * taps (depth < 12) collapse, so a 6-block encoder taps [1,2,3,4,5].
 */
export function defaultTargetLayers(depth: number): number[] {
  const taps = Array.from({ length: 8 }, (_, i) => Math.min(depth - 1, Math.round(depth / 6 + (i * depth) / 12)));
  return [...new Set(taps)];
}

/**
 * Fusion groups: `count` contiguous, near-equal groups over n items (shallow first), as the official
 * [[0,1,2,3],[4,5,6,7]] for 8 taps or 8 decoder blocks. With fewer than `count` items, one group per item.
 */
export function defaultGroups(n: number, count = 2): number[][] {
  const g = Math.max(1, Math.min(count, n));
  const groups: number[][] = [];
  for (let i = 0, start = 0; i < g; i++) {
    const end = Math.round(((i + 1) * n) / g);
    groups.push(Array.from({ length: end - start }, (_, j) => start + j));
    start = end;
  }
  return groups;
}

/**
 * DINOv2 heads are 64 wide, so C/64 heads. For a width that is not a multiple of 64 (a custom encoder), the
 * divisor of C whose head width is nearest 64; pass `encoder.numHeads` if that is not what was trained.
 */
export function defaultEncoderHeads(C: number): number {
  if (C % DINOV2_HEAD_DIM === 0) return C / DINOV2_HEAD_DIM;
  let best = 1;
  for (let h = 1; h <= C; h++) {
    if (C % h === 0 && Math.abs(C / h - DINOV2_HEAD_DIM) < Math.abs(C / best - DINOV2_HEAD_DIM)) best = h;
  }
  return best;
}

/** Encoder config from DINOv2 weights under `prefix` (official names); `overrides` replace inferred fields. */
export function inferVitConfig(t: TensorMap, where: string, overrides: Partial<VitEncoderConfig> = {}, prefix = 'encoder.'): VitEncoderConfig {
  const [C, inCh, p, p2] = shapeOf(t, `${prefix}patch_embed.proj.weight`, where, 4);
  if (inCh !== 3 || p !== p2) throw new CheckpointError(`${where}: ${prefix}patch_embed.proj.weight`, `has shape [${C},${inCh},${p},${p2}], expected [C,3,p,p]`);
  const rows = shapeOf(t, `${prefix}pos_embed`, where, 3)[1];
  const G = Math.round(Math.sqrt(rows - 1));
  if (G * G + 1 !== rows) throw new CheckpointError(`${where}: ${prefix}pos_embed`, `${rows} rows is not 1 + G² (a cls row and a square grid)`);
  const depth = countIndexed(t, `${prefix}blocks.`);
  if (depth === 0) throw new CheckpointError(where, `no ${prefix}blocks.N tensors: not a DINOv2 encoder`);
  const hidden = shapeOf(t, `${prefix}blocks.0.mlp.fc1.weight`, where, 2)[0];
  const reg = t.get(`${prefix}register_tokens`);
  const cfg: VitEncoderConfig = {
    kind: 'dinov2', embedDim: C, depth, numHeads: defaultEncoderHeads(C), patchSize: p,
    registerTokens: reg ? reg.shape[1] ?? 0 : 0, posGridSize: G, mlpRatio: hidden / C, lnEps: 1e-6, interpolateOffset: 0.1,
    ...defined(overrides),
  };
  validateEncoderConfig(cfg, where);
  return cfg;
}

/** Drops keys whose value is undefined, so `{ numHeads: undefined }` keeps the inferred value. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Fields a user may override (CLI flags, a manifest); everything else comes from the tensors. */
export type ConfigOverrides = Partial<Omit<InpFormerConfig, 'encoder' | 'architecture'>> & { encoder?: Partial<VitEncoderConfig> };

/**
 * Config of an official INP-Former state dict (official names), read from tensor shapes as the official scripts
 * define it (INP_Former_Multi_Class.py): M×C INPs, h from learn_scale, taps and groups from the encoder depth.
 */
export function inferInpFormerConfig(t: TensorMap, where: string, overrides: ConfigOverrides = {}): InpFormerConfig {
  const [M, C] = shapeOf(t, 'prototype_token', where, 2);
  const { encoder: encoderOverrides, ...given } = overrides;
  const rest = defined(given);
  const encoder = inferVitConfig(t, where, encoderOverrides);
  const decoderDepth = rest.decoderDepth ?? countIndexed(t, 'decoder.');
  if (decoderDepth === 0) throw new CheckpointError(where, 'no decoder.N tensors: not an INP-Former checkpoint');
  const targetLayers = rest.targetLayers ?? defaultTargetLayers(encoder.depth);
  const groups = Math.min(2, targetLayers.length, decoderDepth);
  const cfg: InpFormerConfig = {
    architecture: 'inp-former', encoder, embedDim: C,
    numHeads: shapeOf(t, 'decoder.0.attn.learn_scale', where, 3)[0],
    inpCount: M, decoderDepth, targetLayers,
    fuseEncoder: defaultGroups(targetLayers.length, groups), fuseDecoder: defaultGroups(decoderDepth, groups),
    mlpRatio: shapeOf(t, 'bottleneck.0.fc1.weight', where, 2)[0] / C, lnEps: 1e-8,
    ...rest,
  };
  validateConfig(cfg, where);
  return cfg;
}

type Fail = (field: string, msg: string) => never;

function failAt(where: string, base: string): Fail {
  return (field, msg) => { throw new CheckpointError(`${where}: ${base}${field}`, msg); };
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isPosInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isPosNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Structural and relational checks of an encoder config from any source (inference + overrides, JSON). */
export function validateEncoderConfig(e: unknown, where: string, base = 'encoder.'): asserts e is VitEncoderConfig {
  const bad: Fail = failAt(where, base);
  if (!isObject(e)) bad('', 'must be an object');
  if (e.kind !== 'dinov2') bad('kind', `must be "dinov2", got ${JSON.stringify(e.kind)}`);
  for (const k of ['embedDim', 'depth', 'numHeads', 'patchSize', 'posGridSize'] as const) {
    if (!isPosInt(e[k])) bad(k, `must be a positive integer, got ${JSON.stringify(e[k])}`);
  }
  if (!(Number.isSafeInteger(e.registerTokens) && (e.registerTokens as number) >= 0)) {
    bad('registerTokens', `must be an integer ≥ 0, got ${JSON.stringify(e.registerTokens)}`);
  }
  for (const k of ['mlpRatio', 'lnEps'] as const) if (!isPosNum(e[k])) bad(k, `must be a positive number, got ${JSON.stringify(e[k])}`);
  if (!(typeof e.interpolateOffset === 'number' && Number.isFinite(e.interpolateOffset) && e.interpolateOffset >= 0)) {
    bad('interpolateOffset', `must be a number ≥ 0, got ${JSON.stringify(e.interpolateOffset)}`);
  }
  const C = e.embedDim as number;
  if (C % (e.numHeads as number)) bad('numHeads', `${e.numHeads} does not divide the width ${C}`);
  if (!Number.isInteger(C * (e.mlpRatio as number))) bad('mlpRatio', `${e.mlpRatio} × ${C} is not a whole hidden width`);
}

/** Checks every field of an INP-Former config and the relations the forward pass relies on; names the field. */
export function validateConfig(c: unknown, where: string): asserts c is InpFormerConfig {
  const bad: Fail = failAt(where, 'config.');
  if (!isObject(c)) bad('', 'must be an object');
  if (c.architecture !== 'inp-former') bad('architecture', `must be "inp-former", got ${JSON.stringify(c.architecture)}`);
  const cnn = isObject(c.encoder) && c.encoder.kind !== 'dinov2';
  if (cnn) validateCnnEncoderConfig(c.encoder, `${where}: config`);
  else validateEncoderConfig(c.encoder, where, 'config.encoder.');
  const e = c.encoder as EncoderConfig;
  // A CNN is one token layer (its stages concatenated): tap [0], width = the stages' channels.
  const encoderWidth = e.kind === 'dinov2' ? e.embedDim : cnnTokenDim(e);
  const depth = e.kind === 'dinov2' ? e.depth : 1;
  for (const k of ['embedDim', 'numHeads', 'inpCount', 'decoderDepth'] as const) {
    if (!isPosInt(c[k])) bad(k, `must be a positive integer, got ${JSON.stringify(c[k])}`);
  }
  for (const k of ['mlpRatio', 'lnEps'] as const) if (!isPosNum(c[k])) bad(k, `must be a positive number, got ${JSON.stringify(c[k])}`);
  const C = c.embedDim as number;
  if (C % (c.numHeads as number)) bad('numHeads', `${c.numHeads} does not divide the width ${C}`);
  if (C !== encoderWidth) bad('embedDim', `head width ${C} differs from the encoder's ${encoderWidth}`);
  if (!Number.isInteger(C * (c.mlpRatio as number))) bad('mlpRatio', `${c.mlpRatio} × ${C} is not a whole hidden width`);
  const layers = c.targetLayers;
  if (!Array.isArray(layers) || !layers.length || layers.some((l) => !Number.isInteger(l) || l < 0 || l >= depth)) {
    bad('targetLayers', `must be a non-empty list of block indices in 0..${depth - 1}, got ${JSON.stringify(layers)}`);
  }
  const checkGroups = (field: string, groups: unknown, n: number) => {
    if (!Array.isArray(groups) || !groups.length
      || groups.some((g) => !Array.isArray(g) || !g.length || g.some((i) => !Number.isInteger(i) || i < 0 || i >= n))) {
      bad(field, `must be non-empty groups of indices in 0..${n - 1}, got ${JSON.stringify(groups)}`);
    }
  };
  checkGroups('fuseEncoder', c.fuseEncoder, (layers as number[]).length);
  checkGroups('fuseDecoder', c.fuseDecoder, c.decoderDepth as number);
  if ((c.fuseEncoder as number[][]).length !== (c.fuseDecoder as number[][]).length) {
    bad('fuseDecoder', `needs as many groups as fuseEncoder (${(c.fuseEncoder as number[][]).length})`);
  }
}
