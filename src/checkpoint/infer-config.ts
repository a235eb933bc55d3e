import { CheckpointError } from '../errors.ts';
import type { InpFormerConfig, TensorMap, VitEncoderConfig } from '../types.ts';

/** DINOv2's heads all have 64 channels (vit_small 384/6, vit_base 768/12, vit_large 1024/16, giant 1536/24). */
const DINOV2_HEAD_DIM = 64;

function shapeOf(t: TensorMap, key: string, where: string): number[] {
  const v = t.get(key);
  if (!v) throw new CheckpointError(`${where}: ${key}`, 'tensor is missing');
  return v.shape;
}

function countIndexed(t: TensorMap, prefix: string): number {
  let n = 0;
  while ([...t.keys()].some((k) => k.startsWith(`${prefix}${n}.`))) n++;
  return n;
}

/**
 * The official scripts tap blocks 2..9 of a 12-block encoder and 4,6,…,18 of a 24-block one. For other depths
 * we keep their spirit: 8 taps evenly spaced over the middle of the network, skipping the first sixth and the
 * last sixth of the blocks (depth 12 and 24 give back the official lists).
 */
export function defaultTargetLayers(depth: number): number[] {
  if (depth === 12) return [2, 3, 4, 5, 6, 7, 8, 9];
  if (depth === 24) return [4, 6, 8, 10, 12, 14, 16, 18];
  const first = Math.floor(depth / 6);
  const last = depth - 1 - Math.floor(depth / 6);
  const n = Math.min(8, last - first + 1);
  const taps = Array.from({ length: n }, (_, i) => Math.round(first + (i * (last - first)) / Math.max(1, n - 1)));
  return [...new Set(taps)];
}

/** Two equal halves (shallow, deep), as fuse_layer_encoder/decoder = [[0..3],[4..7]] for 8 taps. */
export function defaultGroups(n: number): number[][] {
  if (n < 2) return [[0]];
  const half = Math.floor(n / 2);
  return [Array.from({ length: half }, (_, i) => i), Array.from({ length: n - half }, (_, i) => half + i)];
}

/** Encoder config from DINOv2 weights under `prefix` (official names). */
export function inferVitConfig(t: TensorMap, where: string, prefix = 'encoder.'): VitEncoderConfig {
  const [C, inCh, p] = shapeOf(t, `${prefix}patch_embed.proj.weight`, where);
  if (inCh !== 3) throw new CheckpointError(`${where}: ${prefix}patch_embed.proj.weight`, `expects ${inCh} input channels, not 3`);
  const rows = shapeOf(t, `${prefix}pos_embed`, where)[1];
  const G = Math.round(Math.sqrt(rows - 1));
  if (G * G + 1 !== rows) throw new CheckpointError(`${where}: ${prefix}pos_embed`, `${rows} rows is not 1 + G² (a cls row and a square grid)`);
  const depth = countIndexed(t, `${prefix}blocks.`);
  if (depth === 0) throw new CheckpointError(where, `no ${prefix}blocks.N tensors: not a DINOv2 encoder`);
  const hidden = shapeOf(t, `${prefix}blocks.0.mlp.fc1.weight`, where)[0];
  const reg = t.get(`${prefix}register_tokens`);
  return {
    kind: 'dinov2', embedDim: C, depth, numHeads: Math.max(1, Math.round(C / DINOV2_HEAD_DIM)), patchSize: p,
    registerTokens: reg ? reg.shape[1] : 0, posGridSize: G, mlpRatio: hidden / C, lnEps: 1e-6, interpolateOffset: 0.1,
  };
}

export type ConfigOverrides = Partial<Omit<InpFormerConfig, 'encoder' | 'architecture'>> & { encoder?: Partial<VitEncoderConfig> };

/** Config of an official INP-Former state dict, read from tensor shapes as the official scripts define it. */
export function inferInpFormerConfig(t: TensorMap, where: string, overrides: ConfigOverrides = {}): InpFormerConfig {
  const [M, C] = shapeOf(t, 'prototype_token', where);
  const encoder = { ...inferVitConfig(t, where), ...overrides.encoder };
  const decoderDepth = countIndexed(t, 'decoder.');
  if (decoderDepth === 0) throw new CheckpointError(where, 'no decoder.N tensors: not an INP-Former checkpoint');
  const heads = shapeOf(t, 'decoder.0.attn.learn_scale', where)[0];
  const targetLayers = overrides.targetLayers ?? defaultTargetLayers(encoder.depth);
  const { encoder: _encoderOverrides, ...rest } = overrides;
  const cfg: InpFormerConfig = {
    architecture: 'inp-former', encoder, embedDim: C, numHeads: heads, inpCount: M, decoderDepth,
    targetLayers, fuseEncoder: defaultGroups(targetLayers.length), fuseDecoder: defaultGroups(decoderDepth),
    mlpRatio: shapeOf(t, 'bottleneck.0.fc1.weight', where)[0] / C, lnEps: 1e-8,
    ...rest,
  };
  validateConfig(cfg, where);
  return cfg;
}

/** Checks the relations the forward pass relies on; names the offending field. */
export function validateConfig(c: InpFormerConfig, where: string): void {
  const bad = (field: string, msg: string) => { throw new CheckpointError(`${where}: config.${field}`, msg); };
  const e = c.encoder;
  if (e.embedDim % e.numHeads) bad('encoder.numHeads', `${e.numHeads} does not divide the width ${e.embedDim}`);
  if (c.embedDim % c.numHeads) bad('numHeads', `${c.numHeads} does not divide the width ${c.embedDim}`);
  if (c.embedDim !== e.embedDim) bad('embedDim', `head width ${c.embedDim} differs from the encoder's ${e.embedDim}`);
  if (!c.targetLayers.length || c.targetLayers.some((l) => !Number.isInteger(l) || l < 0 || l >= e.depth)) {
    bad('targetLayers', `must be block indices in 0..${e.depth - 1}, got [${c.targetLayers}]`);
  }
  const checkGroups = (field: string, groups: number[][], n: number) => {
    if (!groups.length || groups.some((g) => !g.length || g.some((i) => !Number.isInteger(i) || i < 0 || i >= n))) {
      bad(field, `groups must index 0..${n - 1}, got ${JSON.stringify(groups)}`);
    }
  };
  checkGroups('fuseEncoder', c.fuseEncoder, c.targetLayers.length);
  checkGroups('fuseDecoder', c.fuseDecoder, c.decoderDepth);
  if (c.fuseEncoder.length !== c.fuseDecoder.length) bad('fuseDecoder', 'needs as many groups as fuseEncoder');
}
