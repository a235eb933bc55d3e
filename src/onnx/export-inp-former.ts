import { cnnTokenDim } from '../encoder/cnn-config.ts';
import { resamplePosEmbed } from '../encoder/pos-embed.ts';
import { CheckpointError, InputError } from '../errors.ts';
import { encoderTensorsOf, inputMultipleOf, isVit } from '../inp-former/frozen-encoder.ts';
import type { HostTensor, InpFormerConfig, PreprocessConfig, TensorMap, VitEncoderConfig } from '../types.ts';
import { cnnTokenGraph } from './export-cnn.ts';
import { GraphBuilder, OPSET } from './graph.ts';
import {
  attend, cosineDistance, dense, gelu, l2Normalize, layerNorm, mapChain, meanOf, mergeHeads, splitHeads, sumSquares,
} from './ops.ts';
import { ONNX_IO } from './io-names.ts';
import { refinedCoarseGraph } from './export-refine.ts';
import type { RefineHead } from '../refine/config.ts';
import { DataType, encodeModel, type ModelProto } from './proto.ts';

/**
 * INP-Former → ONNX (opset 17), written from our config and official-named weights, no Python: the whole
 * inference graph of src/inp-former/model.ts plus the map chain of src/map/anomaly-map.ts. One input, the
 * normalised image batch [N, 3, H, W] (N free); H×W is fixed per export because the positional table is
 * resampled for it here, once, as the tfjs path does per input size (and a CNN's token grid follows from it).
 */

export { ONNX_IO } from './io-names.ts';

export interface OnnxExportOptions {
  /** Model input [H, W] in pixels, multiples of the patch size. */
  inputSize: [number, number];
  /** Scoring map [H, W] (official 256×256). */
  mapSize: [number, number];
  /** Fraction of the map averaged for the score (official max_ratio 0.01); 0 = the maximum. */
  topRatio?: number;
  /** Graph name, e.g. the model's name. */
  name?: string;
  /** How images become the input (resize, crop, mean/std), stored for consumers of the file. */
  preprocess?: PreprocessConfig;
  /** A CNN encoder's weights when the model does not hold them under `encoder.` (nsfwjs, from its package). */
  encoderWeights?: TensorMap;
}

/** Metadata stored in the file, so a loader can check what it was exported for. */
export interface OnnxExportMetadata {
  config: InpFormerConfig;
  inputSize: [number, number];
  mapSize: [number, number];
  topRatio: number;
  preprocess?: PreprocessConfig;
}
export const METADATA_KEY = 'inp-former';

/**
 * torch Linear weight [out, in] (rows `from`..`from+out`) → [in, out] for MatMul. In 32×32 tiles, so reads and
 * writes both stay in cache (a plain double loop strides through 4 KiB-apart rows on every write).
 */
function transposeRows(w: Float32Array, inDim: number, from: number, out: number): Float32Array {
  const t = new Float32Array(inDim * out);
  const T = 32;
  for (let r0 = 0; r0 < out; r0 += T) {
    for (let c0 = 0; c0 < inDim; c0 += T) {
      for (let r = r0; r < Math.min(r0 + T, out); r++) {
        for (let c = c0; c < Math.min(c0 + T, inDim); c++) t[c * out + r] = w[(from + r) * inDim + c];
      }
    }
  }
  return t;
}

/** Reads official-named float tensors, checking their shapes; errors name the tensor. */
function weightReader(tensors: TensorMap, where: string) {
  return (key: string, shape: number[]): Float32Array => {
    const t: HostTensor | undefined = tensors.get(key);
    if (!t) throw new CheckpointError(`${where}: ${key}`, 'tensor is missing (needed by the ONNX graph)');
    if (t.shape.join() !== shape.join()) throw new CheckpointError(`${where}: ${key}`, `has shape [${t.shape}], expected [${shape}]`);
    if (t.data instanceof Float32Array) return t.data;
    if (t.data instanceof Float64Array) return Float32Array.from(t.data);
    throw new CheckpointError(`${where}: ${key}`, `has dtype ${t.dtype}; the ONNX graph needs floating-point weights`);
  };
}

type Weight = ReturnType<typeof weightReader>;

interface Ctx { b: GraphBuilder; w: Weight }

/** Linear `key` on x; `part` takes the index-th of `of` equal row blocks of a fused weight (q/k/v of qkv). */
function linear(g: Ctx, x: string, key: string, inDim: number, outDim: number, part = { index: 0, of: 1 }): string {
  const w = g.w(`${key}.weight`, [outDim * part.of, inDim]);
  const bias = g.w(`${key}.bias`, [outDim * part.of]);
  const tag = part.of > 1 ? `[${part.index}/${part.of}]` : '';
  const from = part.index * outDim;
  return dense(
    g.b, x,
    g.b.initializer(`${key}.weight${tag}.T`, transposeRows(w, inDim, from, outDim), [inDim, outDim]),
    g.b.initializer(`${key}.bias${tag}`, bias.slice(from, from + outDim), [outDim]),
  );
}

function norm(g: Ctx, x: string, key: string, C: number, eps: number): string {
  return layerNorm(g.b, x, g.b.initializer(`${key}.weight`, g.w(`${key}.weight`, [C]), [C]), g.b.initializer(`${key}.bias`, g.w(`${key}.bias`, [C]), [C]), eps);
}

function mlp(g: Ctx, x: string, key: string, C: number, hidden: number): string {
  return linear(g, gelu(g.b, linear(g, x, `${key}.fc1`, C, hidden)), `${key}.fc2`, hidden, C);
}

const vector = (g: Ctx, key: string, n: number) => g.b.initializer(key, g.w(key, [n]), [n]);

/** DINOv2 block: x += γ1·Attn(LN1 x); x += γ2·MLP(LN2 x); softmax attention with q scaled by d^−½. */
function encoderBlock(g: Ctx, x: string, key: string, e: VitEncoderConfig): string {
  const { b } = g;
  const C = e.embedDim;
  const h = e.numHeads;
  const d = C / h;
  const n1 = norm(g, x, `${key}.norm1`, C, e.lnEps);
  const [q, k, v] = [0, 1, 2].map((index) => linear(g, n1, `${key}.attn.qkv`, C, C, { index, of: 3 }));
  const qs = b.op('Mul', [splitHeads(b, q, h, d), b.floats([1 / Math.sqrt(d)])]);
  const a = mergeHeads(b, attend(b, qs, splitHeads(b, k, h, d, true), splitHeads(b, v, h, d), 'Softmax'), C);
  const x1 = b.op('Add', [x, b.op('Mul', [linear(g, a, `${key}.attn.proj`, C, C), vector(g, `${key}.ls1.gamma`, C)])]);
  const m = mlp(g, norm(g, x1, `${key}.norm2`, C, e.lnEps), `${key}.mlp`, C, Math.round(C * e.mlpRatio));
  return b.op('Add', [x1, b.op('Mul', [m, vector(g, `${key}.ls2.gamma`, C)])]);
}

/**
 * prepare_tokens + blocks 0..max(taps): [cls, registers, patches] with the positional table resampled for this
 * grid (registers get no position), returning the tapped blocks' patch tokens [N, gh·gw, C].
 */
function encoder(g: Ctx, image: string, batch: string, e: VitEncoderConfig, taps: number[], grid: [number, number]): string[] {
  const { b } = g;
  const C = e.embedDim;
  const p = e.patchSize;
  const [gh, gw] = grid;
  const R = e.registerTokens;
  const tokens = b.scope('encoder.prepare_tokens', () => {
    const stored = g.w('encoder.pos_embed', [1, 1 + e.posGridSize ** 2, C]);
    const pos = resamplePosEmbed(stored, C, gh, gw, e.interpolateOffset);
    const conv = b.op('Conv', [
      image,
      b.initializer('encoder.patch_embed.proj.weight', g.w('encoder.patch_embed.proj.weight', [C, 3, p, p]), [C, 3, p, p]),
      vector(g, 'encoder.patch_embed.proj.bias', C),
    ], { kernel_shape: [p, p], strides: [p, p] });
    const patches = b.op('Add', [
      b.op('Transpose', [b.op('Reshape', [conv, b.ints([0, C, -1])])], { perm: [0, 2, 1] }),
      b.initializer(`encoder.pos_embed[${gh}x${gw}]`, pos.slice(C), [1, gh * gw, C]),
    ]);
    // cls + its position, then the registers: batch-independent rows, added on the host in float32 like torch.
    const cls = g.w('encoder.cls_token', [1, 1, C]);
    const prefix = new Float32Array((1 + R) * C);
    for (let c = 0; c < C; c++) prefix[c] = cls[c] + pos[c];
    if (R > 0) prefix.set(g.w('encoder.register_tokens', [1, R, C]), C);
    const head = b.initializer('encoder.cls_token+pos_embed[0]+register_tokens', prefix, [1, 1 + R, C]);
    const expanded = b.op('Expand', [head, b.op('Concat', [batch, b.ints([1 + R, C])], { axis: 0 })]);
    return b.op('Concat', [expanded, patches], { axis: 1 });
  });
  const last = Math.max(...taps);
  if (last >= e.depth) throw new InputError('targetLayers', `tapped block ${last} is beyond the encoder's ${e.depth} blocks`);
  const out = new Map<number, string>();
  let t = tokens;
  for (let i = 0; i <= last; i++) {
    const key = `encoder.blocks.${i}`;
    t = b.scope(key, () => encoderBlock(g, t, key, e));
    // INP-Former uses the raw residual stream of the tapped blocks, without cls and registers.
    if (taps.includes(i)) out.set(i, b.scope(key, () => b.op('Slice', [t, b.ints([1 + R]), b.ints([2 ** 62]), b.ints([1])])));
  }
  return taps.map((i) => out.get(i)!);
}

/** INP extractor (Aggregation_Block): the INP tokens attend to F_Q with softmax attention; both residuals kept. */
function extractor(g: Ctx, fq: string, cfg: InpFormerConfig): string {
  const { b } = g;
  const C = cfg.embedDim;
  const h = cfg.numHeads;
  const d = C / h;
  const key = 'aggregation.0';
  // [1, M, C]: the tokens are the same for every image, so they broadcast instead of being tiled.
  const tokens = b.initializer('prototype_token', g.w('prototype_token', [cfg.inpCount, C]), [1, cfg.inpCount, C]);
  const q = b.op('Mul', [splitHeads(b, linear(g, norm(g, tokens, `${key}.norm1`, C, cfg.lnEps), `${key}.attn.q`, C, C), h, d), b.floats([1 / Math.sqrt(d)])]);
  const nf = norm(g, fq, `${key}.norm1`, C, cfg.lnEps);
  const k = linear(g, nf, `${key}.attn.kv`, C, C, { index: 0, of: 2 });
  const v = linear(g, nf, `${key}.attn.kv`, C, C, { index: 1, of: 2 });
  const y = mergeHeads(b, attend(b, q, splitHeads(b, k, h, d, true), splitHeads(b, v, h, d), 'Softmax'), C);
  const x = b.op('Add', [tokens, linear(g, y, `${key}.attn.proj`, C, C)]);
  return b.op('Add', [x, mlp(g, norm(g, x, `${key}.norm2`, C, cfg.lnEps), `${key}.mlp`, C, Math.round(C * cfg.mlpRatio))]);
}

/**
 * INP-guided decoder block (Prototype_Block): ReLU(s_h·q̂·k̂ᵀ) attention of the tokens over the INPs, no
 * attention residual, MLP residual kept. s_h scales the M normalised keys, as in src/inp-former/decoder.ts.
 */
function decoderBlock(g: Ctx, z: string, inps: string, key: string, cfg: InpFormerConfig): string {
  const { b } = g;
  const C = cfg.embedDim;
  const h = cfg.numHeads;
  const d = C / h;
  const q = l2Normalize(b, splitHeads(b, linear(g, norm(g, z, `${key}.norm1`, C, cfg.lnEps), `${key}.attn.q`, C, C), h, d));
  const ni = norm(g, inps, `${key}.norm1`, C, cfg.lnEps);
  const k = l2Normalize(b, splitHeads(b, linear(g, ni, `${key}.attn.kv`, C, C, { index: 0, of: 2 }), h, d));
  const scale = b.initializer(`${key}.attn.learn_scale`, g.w(`${key}.attn.learn_scale`, [h, 1, 1]), [1, h, 1, 1]);
  const kT = b.op('Transpose', [b.op('Mul', [k, scale])], { perm: [0, 1, 3, 2] });
  const v = splitHeads(b, linear(g, ni, `${key}.attn.kv`, C, C, { index: 1, of: 2 }), h, d);
  const y = linear(g, mergeHeads(b, attend(b, q, kT, v, 'Relu'), C), `${key}.attn.proj`, C, C);
  return b.op('Add', [y, mlp(g, norm(g, y, `${key}.norm2`, C, cfg.lnEps), `${key}.mlp`, C, Math.round(C * cfg.mlpRatio))]);
}

/** Input and map sizes an export can take: whole multiples of `multiple` pixels (the ViT patch; 1 for CNNs). */
export function checkExportSizes(o: Pick<OnnxExportOptions, 'inputSize' | 'mapSize'>, multiple: number): void {
  const p = multiple;
  const [H, W] = o.inputSize;
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < p || W < p || H % p || W % p) {
    const near = (v: number) => Math.max(p, Math.round(v / p) * p);
    throw new InputError('size', p > 1
      ? `input ${H}×${W} is not a positive multiple of the model's ${p}-pixel patch (nearest: ${near(H)}×${near(W)})`
      : `input ${H}×${W} must be positive whole pixels`);
  }
  if (!o.mapSize.every((s) => Number.isInteger(s) && s >= 1)) throw new InputError('map-size', `must be positive integers, got ${o.mapSize}`);
}

/** Checks an exportable config and sizes (errors name the field). */
function checkExportable(config: InpFormerConfig, o: OnnxExportOptions): void {
  const e = config.encoder;
  checkExportSizes(o, inputMultipleOf(e));
  const width = isVit(e) ? e.embedDim : cnnTokenDim(e);
  if (isVit(e) && e.embedDim % e.numHeads) throw new InputError('encoder.numHeads', `${e.numHeads} does not divide the width ${e.embedDim}`);
  if (config.embedDim % config.numHeads) throw new InputError('numHeads', `${config.numHeads} does not divide the width ${config.embedDim}`);
  if (config.embedDim !== width) throw new InputError('embedDim', `head width ${config.embedDim} differs from the encoder's ${width}`);
}

/**
 * The tapped token layers [N, gh·gw, C] and their grid: a ViT's blocks, or a CNN's concatenated stages as its one
 * token layer (tap 0), as in src/inp-former/frozen-encoder.ts.
 */
function encoderLayers(g: Ctx, config: InpFormerConfig, o: OnnxExportOptions, tensors: TensorMap, where: string): { layers: string[]; grid: [number, number] } {
  const e = config.encoder;
  if (!isVit(e)) {
    const { tokens, grid } = cnnTokenGraph(g.b, ONNX_IO.input, e, o.encoderWeights ?? encoderTensorsOf(tensors), o.inputSize, where);
    return { layers: [tokens], grid };
  }
  const grid: [number, number] = [o.inputSize[0] / e.patchSize, o.inputSize[1] / e.patchSize];
  const batch = g.b.op('Shape', [ONNX_IO.input], { start: 0, end: 1 });
  return { layers: encoder(g, ONNX_IO.input, batch, e, config.targetLayers, grid), grid };
}

/** The ONNX model as plain protobuf objects (see `exportInpFormerOnnx` for the file's bytes). */
/** `refine`: a refinement head whose refined map `anomaly_map` becomes (the zero-shot outputs stay raw). */
export function buildInpFormerGraph(config: InpFormerConfig, tensors: TensorMap, opts: OnnxExportOptions, where = 'weights', refine?: RefineHead): ModelProto {
  checkExportable(config, opts);
  const e = config.encoder;
  const o = { ...opts, topRatio: opts.topRatio ?? 0.01 };
  const b = new GraphBuilder();
  const g: Ctx = { b, w: weightReader(tensors, where) };
  const C = config.embedDim;

  const { layers, grid } = encoderLayers(g, config, o, tensors, where);
  const { en, de, distance } = b.scope('head', () => {
    // The official code averages the taps (the paper writes a sum).
    const fq = meanOf(b, layers);
    const inps = b.scope('aggregation.0', () => extractor(g, fq, config));
    // min over INPs of 1 − cos(F_Q token, INP): [N, gh·gw, M] from one MatMul and the two squared norms.
    const distance = b.scope('distance', () => {
      const dot = b.op('MatMul', [fq, b.op('Transpose', [inps], { perm: [0, 2, 1] })]);
      const sqP = b.op('Unsqueeze', [sumSquares(b, inps, 0), b.ints([1])]);
      return b.op('ReduceMin', [cosineDistance(b, dot, sumSquares(b, fq, 1), sqP)], { axes: [-1], keepdims: 0 });
    });
    let z = b.scope('bottleneck.0', () => mlp(g, fq, 'bottleneck.0', C, Math.round(C * config.mlpRatio)));
    const decoded: string[] = [];
    for (let i = 0; i < config.decoderDepth; i++) {
      const key = `decoder.${i}`;
      z = b.scope(key, () => decoderBlock(g, z, inps, key, config));
      decoded.push(z);
    }
    // Decoder groups index the reversed outputs (de_list[::-1]), as in src/inp-former/model.ts.
    const reversed = [...decoded].reverse();
    return {
      en: config.fuseEncoder.map((grp) => meanOf(b, grp.map((i) => layers[i]))),
      de: config.fuseDecoder.map((grp) => meanOf(b, grp.map((i) => reversed[i]))),
      distance,
    };
  });
  const coarseShape = b.ints([-1, 1, grid[0], grid[1]]);
  b.scope('map', () => {
    const maps = en.map((x, i) => cosineDistance(b, b.op('ReduceSum', [b.op('Mul', [x, de[i]]), b.ints([-1])], { keepdims: 0 }), sumSquares(b, x, 0), sumSquares(b, de[i], 0)));
    const recon = meanOf(b, maps);
    const coarse = b.op('Reshape', [recon, coarseShape]);
    if (!refine) {
      mapChain(b, coarse, o, [ONNX_IO.map, ONNX_IO.score]);
      return;
    }
    // The refinement head's input, as src/refine/refined.ts's inpFormerResidual: per group |E − D| scaled by the
    // group's cosine distance, averaged, and the reconstruction map as one more channel.
    const parts = en.map((x, i) => b.op('Mul', [b.op('Abs', [b.op('Sub', [x, de[i]])]), b.op('Unsqueeze', [maps[i], b.ints([-1])])]));
    const residual = b.op('Concat', [meanOf(b, parts), b.op('Unsqueeze', [recon, b.ints([-1])])], { axis: -1 });
    mapChain(b, b.scope('refine', () => refinedCoarseGraph(b, residual, coarse, grid, refine)), o, [ONNX_IO.map, ONNX_IO.score]);
  });
  b.scope('zero_shot_map', () => mapChain(b, b.op('Reshape', [distance, coarseShape]), o, [ONNX_IO.zeroShotMap, ONNX_IO.zeroShotScore]));

  const [H, W] = o.inputSize;
  const [mh, mw] = o.mapSize;
  const metadata: OnnxExportMetadata = {
    config, inputSize: o.inputSize, mapSize: o.mapSize, topRatio: o.topRatio, ...(o.preprocess ? { preprocess: o.preprocess } : {}),
  };
  return b.build({
    name: o.name ?? 'inp-former',
    docString: `INP-Former (${isVit(e) ? `DINOv2 ${e.embedDim}-d, ${e.registerTokens} registers` : `${e.kind} ${e.layers.join('+')}`}) at ${H}×${W}: normalised NCHW image in; ${refine ? 'refined ' : ''}reconstruction and zero-shot maps at ${mh}×${mw} (σ=4 Gaussian) and their top-${o.topRatio} scores out. Opset ${OPSET}.`,
    inputs: [{ name: ONNX_IO.input, type: DataType.FLOAT, dims: ['N', 3, H, W] }],
    outputs: [
      { name: ONNX_IO.map, type: DataType.FLOAT, dims: ['N', 1, mh, mw] },
      { name: ONNX_IO.score, type: DataType.FLOAT, dims: ['N'] },
      { name: ONNX_IO.zeroShotMap, type: DataType.FLOAT, dims: ['N', 1, mh, mw] },
      { name: ONNX_IO.zeroShotScore, type: DataType.FLOAT, dims: ['N'] },
    ],
    metadata: { [METADATA_KEY]: JSON.stringify(metadata) },
  });
}

/** The .onnx file's bytes for `config` and official-named `tensors` (`where` names the weights in errors). */
export function exportInpFormerOnnx(config: InpFormerConfig, tensors: TensorMap, opts: OnnxExportOptions, where?: string, refine?: RefineHead): Uint8Array {
  return encodeModel(buildInpFormerGraph(config, tensors, opts, where, refine));
}
