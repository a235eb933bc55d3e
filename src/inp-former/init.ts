import { expectedEncoderShapes, expectedHeadShapes } from '../checkpoint/load.ts';
import { numel } from '../checkpoint/dtype.ts';
import type { HostTensor, InpFormerConfig, TensorMap } from '../types.ts';

/** Seeded uniform [0,1) (mulberry32): same seed, same weights, on every platform. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** torch.nn.init.trunc_normal_: normal(0, std) redrawn until inside [−bound, bound]. */
function truncNormal(n: number, std: number, bound: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = normal(rand) * std; while (Math.abs(v) > bound);
    out[i] = v;
  }
  return out;
}

/**
 * The reference initialisation of the trainable head: Linear weights trunc_normal(σ=0.01, ±0.03), biases 0,
 * LayerNorm 1/0, INP tokens N(0,1), learn_scale 1.
 */
export function initHead(config: InpFormerConfig, seed: number): TensorMap {
  const rand = seededRandom(seed);
  const out: TensorMap = new Map();
  for (const [k, shape] of expectedHeadShapes(config)) {
    const n = numel(shape);
    let data: Float32Array;
    if (k === 'prototype_token') data = Float32Array.from({ length: n }, () => normal(rand));
    else if (k.endsWith('learn_scale') || (/norm\d\.weight$/.test(k))) data = new Float32Array(n).fill(1);
    else if (k.endsWith('.weight')) data = truncNormal(n, 0.01, 0.03, rand);
    else data = new Float32Array(n);
    out.set(k, { dtype: 'F32', shape, data });
  }
  return out;
}

/**
 * A random DINOv2 encoder with DINOv2-like statistics (weights σ=0.02, LayerScale 0.1): for speed benchmarks and
 * tests of shapes other than the fixture's. Not pretrained, so its maps mean nothing.
 */
export function randomEncoder(config: InpFormerConfig, seed: number): TensorMap {
  if (config.encoder.kind !== 'dinov2') throw new RangeError('randomEncoder: only DINOv2 encoders are random; CNN encoders load real weights');
  const rand = seededRandom(seed);
  const out: TensorMap = new Map();
  for (const [k, shape] of expectedEncoderShapes(config.encoder)) {
    const n = numel(shape);
    let data: Float32Array;
    if (/norm\d?\.weight$/.test(k)) data = new Float32Array(n).fill(1);
    else if (/ls\d\.gamma$/.test(k)) data = new Float32Array(n).fill(0.1);
    else if (/(norm\d?|bias)$/.test(k) || k.endsWith('.bias')) data = new Float32Array(n);
    else data = truncNormal(n, 0.02, 0.04, rand);
    out.set(k, { dtype: 'F32', shape, data } as HostTensor);
  }
  return out;
}

export function randomInpFormer(config: InpFormerConfig, seed: number): TensorMap {
  return new Map([...randomEncoder(config, seed), ...initHead(config, seed + 1)]);
}

/** An official-layout config for DINOv2 ViT-{S,B,L}/14 with 4 registers (the shipped checkpoints' family). */
export function dinov2InpFormerConfig(size: 'small' | 'base' | 'large', registers = 4): InpFormerConfig {
  const [C, depth] = { small: [384, 12], base: [768, 12], large: [1024, 24] }[size];
  const heads = C / 64;
  const targetLayers = depth === 12 ? [2, 3, 4, 5, 6, 7, 8, 9] : [4, 6, 8, 10, 12, 14, 16, 18];
  return {
    architecture: 'inp-former',
    encoder: { kind: 'dinov2', embedDim: C, depth, numHeads: heads, patchSize: 14, registerTokens: registers, posGridSize: 37, mlpRatio: 4, lnEps: 1e-6, interpolateOffset: 0.1 },
    embedDim: C, numHeads: heads, inpCount: 6, decoderDepth: 8, targetLayers,
    fuseEncoder: [[0, 1, 2, 3], [4, 5, 6, 7]], fuseDecoder: [[0, 1, 2, 3], [4, 5, 6, 7]], mlpRatio: 4, lnEps: 1e-8,
  };
}
