import { validateCnnEncoderConfig } from '../encoder/cnn-config.ts';
import { MOBILENETV2_STAGES, type MobileNetV2Stage } from '../encoder/mobilenetv2-nsfwjs.ts';
import { RESNET_STAGES, resnetStages, type ResNetKind } from '../encoder/resnet.ts';
import { CheckpointError } from '../errors.ts';
import type { CnnEncoderConfig, TensorMap } from '../types.ts';
import type { GraphBuilder } from './graph.ts';
import { resizeBilinear } from './ops.ts';

/**
 * The CNN patch encoders (src/encoder/{resnet,mobilenetv2-nsfwjs,cnn-tokens}.ts) as ONNX graph: every conv with
 * its BatchNorm folded in on the host, NCHW throughout, then cnnTokens (3×3 average, half-pixel resize to one
 * grid, channel concat) → tokens [N, gh·gw, ΣC]. Spatial sizes are tracked here, since the map chain needs the
 * token grid as constants.
 */

/** A tensor of the graph with its static channel count and spatial size. */
interface Feature { name: string; c: number; h: number; w: number }

/** Output side of a conv or pool: ⌊(in + pads − k) / stride⌋ + 1. */
const outSide = (n: number, k: number, stride: number, pads: number) => Math.floor((n + pads - k) / stride) + 1;

/** A float tensor of the encoder's weights, or a CheckpointError naming it. */
function tensor(t: TensorMap, key: string, where: string): { data: ArrayLike<number>; shape: number[] } {
  const v = t.get(key);
  if (!v) throw new CheckpointError(`${where}: ${key}`, 'tensor is missing (needed by the ONNX graph)');
  if (!(v.data instanceof Float32Array || v.data instanceof Float64Array)) throw new CheckpointError(`${where}: ${key}`, `dtype ${v.dtype} is not a float type`);
  return { data: v.data, shape: v.shape };
}

/** Per-channel BN scale γ/√(σ²+ε) and bias β − μ·scale: eval-mode BatchNorm is affine, so it folds into the conv. */
function bnAffine(fields: ArrayLike<number>[], eps: number): { scale: Float32Array; bias: Float32Array } {
  const [g, beta, mean, variance] = fields;
  const scale = Float32Array.from({ length: g.length }, (_, c) => g[c] / Math.sqrt(variance[c] + eps));
  return { scale, bias: Float32Array.from(scale, (s, c) => beta[c] - mean[c] * s) };
}

interface ConvArgs {
  /** OIHW weight with the BN scale already applied, and the folded bias. */
  w: Float32Array; bias: Float32Array; O: number; I: number; k: number;
  stride: number;
  /** [top, left, bottom, right]. */
  pads: [number, number, number, number];
  group?: number;
  act: 'relu' | 'relu6' | 'linear';
}

function conv(b: GraphBuilder, x: Feature, key: string, a: ConvArgs): Feature {
  const group = a.group ?? 1;
  const w = b.initializer(`${key}.weight(bn folded)`, a.w, [a.O, a.I, a.k, a.k]);
  const bias = b.initializer(`${key}.bias(bn folded)`, a.bias, [a.O]);
  const y = b.op('Conv', [x.name, w, bias], { kernel_shape: [a.k, a.k], strides: [a.stride, a.stride], pads: a.pads, group });
  // ReLU6 is Clip(0, 6): Keras's relu6, which onnxruntime fuses into the conv.
  const name = a.act === 'linear' ? y : a.act === 'relu' ? b.op('Relu', [y]) : b.op('Clip', [y, b.floats([0]), b.floats([6])]);
  return { name, c: a.O, h: outSide(x.h, a.k, a.stride, a.pads[0] + a.pads[2]), w: outSide(x.w, a.k, a.stride, a.pads[1] + a.pads[3]) };
}

/** The channels a conv expects must be the ones its input has; the error names the weight. */
function checkIn(x: Feature, inCh: number, key: string, shape: number[], where: string): void {
  if (inCh !== x.c) throw new CheckpointError(`${where}: ${key}`, `shape [${shape}] takes ${inCh} input channels; the layer before gives ${x.c}`);
}

/** torchvision blocks per stage (BasicBlock for ResNet-18, Bottleneck otherwise), as in src/encoder/resnet.ts. */
const RESNET_BLOCKS: Record<ResNetKind, number[]> = { resnet18: [2, 2, 2, 2], resnet50: [3, 4, 6, 3], wide_resnet50_2: [3, 4, 6, 3] };
const TORCH_BN_EPS = 1e-5;

/** torchvision conv `c` (OIHW, no bias) + BatchNorm `bn`, symmetric padding k/2. */
function torchConvBn(b: GraphBuilder, x: Feature, t: TensorMap, c: string, bn: string, stride: number, act: ConvArgs['act'], where: string): Feature {
  const { data, shape } = tensor(t, `${c}.weight`, where);
  const [O, I, k] = shape;
  if (shape.length !== 4 || shape[3] !== k) throw new CheckpointError(`${where}: ${c}.weight`, `shape [${shape}] is not a square OIHW conv kernel`);
  checkIn(x, I, `${c}.weight`, shape, where);
  const fields = ['weight', 'bias', 'running_mean', 'running_var'].map((f) => {
    const v = tensor(t, `${bn}.${f}`, where);
    if (v.shape.join() !== `${O}`) throw new CheckpointError(`${where}: ${bn}.${f}`, `shape [${v.shape}], expected [${O}]`);
    return v.data;
  });
  const { scale, bias } = bnAffine(fields, TORCH_BN_EPS);
  const per = I * k * k;
  const w = Float32Array.from(data, (v, i) => v * scale[Math.floor(i / per)]);
  const p = (k - 1) / 2;
  return conv(b, x, c, { w, bias, O, I, k, stride, pads: [p, p, p, p], act });
}

/** ResNet stem + stages up to the deepest wanted; returns the wanted stages' outputs in `wanted`'s order. */
function resnetGraph(b: GraphBuilder, image: Feature, kind: ResNetKind, t: TensorMap, wanted: string[], where: string): Feature[] {
  const { usable, missing } = resnetStages(kind, t);
  for (const s of wanted) {
    const m = missing.get(s as (typeof RESNET_STAGES)[number])!;
    if (!usable.includes(s as (typeof RESNET_STAGES)[number])) throw new CheckpointError(where, `${s} is not usable: missing ${m.slice(0, 6).join(', ')}${m.length > 6 ? ` and ${m.length - 6} more` : ''}`);
  }
  const bottleneck = kind !== 'resnet18';
  const last = Math.max(...wanted.map((s) => RESNET_STAGES.indexOf(s as (typeof RESNET_STAGES)[number])));
  const out = new Map<string, Feature>();
  let x = b.scope('encoder.stem', () => {
    const c1 = torchConvBn(b, image, t, 'conv1', 'bn1', 2, 'relu', where);
    // MaxPool pads with −∞, as torch does.
    const name = b.op('MaxPool', [c1.name], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
    return { name, c: c1.c, h: outSide(c1.h, 3, 2, 2), w: outSide(c1.w, 3, 2, 2) };
  });
  for (let s = 0; s <= last; s++) {
    for (let i = 0; i < RESNET_BLOCKS[kind][s]; i++) {
      const p = `layer${s + 1}.${i}`;
      // ResNet v1.5: the stride sits on the 3×3 conv (Bottleneck conv2, BasicBlock conv1).
      const stride = s > 0 && i === 0 ? 2 : 1;
      x = b.scope(`encoder.${p}`, () => {
        const identity = t.has(`${p}.downsample.0.weight`) ? torchConvBn(b, x, t, `${p}.downsample.0`, `${p}.downsample.1`, stride, 'linear', where).name : x.name;
        const y = bottleneck
          ? torchConvBn(b, torchConvBn(b, torchConvBn(b, x, t, `${p}.conv1`, `${p}.bn1`, 1, 'relu', where), t, `${p}.conv2`, `${p}.bn2`, stride, 'relu', where), t, `${p}.conv3`, `${p}.bn3`, 1, 'linear', where)
          : torchConvBn(b, torchConvBn(b, x, t, `${p}.conv1`, `${p}.bn1`, stride, 'relu', where), t, `${p}.conv2`, `${p}.bn2`, 1, 'linear', where);
        return { ...y, name: b.op('Relu', [b.op('Add', [y.name, identity])]) };
      });
    }
    out.set(RESNET_STAGES[s], x);
  }
  return wanted.map((s) => out.get(s)!);
}

/** keras.applications.MobileNetV2's BatchNormalization epsilon, as in src/encoder/mobilenetv2-nsfwjs.ts. */
const KERAS_BN_EPS = 1e-3;
/** Blocks whose depthwise conv has stride 2, after Keras's ZeroPadding2D((0, 1), (0, 1)). */
const MBV2_STRIDE2: ReadonlySet<string> = new Set(['block_1', 'block_3', 'block_6']);

/**
 * Keras conv `layer` (HWIO kernel, or HW·C·1 depthwise) + BatchNorm `${layer}_BN` → OIHW Conv (grouped per
 * channel for a depthwise kernel). Stride-2 layers pad bottom/right only (ZeroPadding2D / TF 'same').
 */
function kerasConvBn(b: GraphBuilder, x: Feature, t: TensorMap, layer: string, bn: string, depthwise: boolean, stride: number, act: ConvArgs['act'], where: string): Feature {
  const key = `${layer}/${depthwise ? 'depthwise_kernel' : 'kernel'}`;
  const { data, shape } = tensor(t, key, where);
  const [k, kw, I, O] = shape;
  if (shape.length !== 4 || kw !== k || (depthwise && O !== 1)) throw new CheckpointError(`${where}: ${key}`, `shape [${shape}] is not a square ${depthwise ? 'depthwise (HW·C·1)' : 'HWIO'} kernel`);
  checkIn(x, I, key, shape, where);
  const C = depthwise ? I : O;
  const fields = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((f) => {
    const v = tensor(t, `${bn}/${f}`, where);
    if (v.shape.join() !== `${C}`) throw new CheckpointError(`${where}: ${bn}/${f}`, `shape [${v.shape}], expected [${C}]`);
    return v.data;
  });
  const { scale, bias } = bnAffine(fields, KERAS_BN_EPS);
  // HWIO → OIHW; a depthwise kernel [k, k, C, 1] has the memory layout of [k, k, 1, C], i.e. OIHW [C, 1, k, k].
  const [oi, oo] = depthwise ? [1, C] : [I, O];
  const w = new Float32Array(data.length);
  for (let o = 0; o < oo; o++) {
    for (let i = 0; i < oi; i++) {
      for (let y = 0; y < k; y++) {
        for (let z = 0; z < k; z++) w[((o * oi + i) * k + y) * k + z] = data[((y * k + z) * oi + i) * oo + o] * scale[o];
      }
    }
  }
  const half = (k - 1) / 2;
  const pads: ConvArgs['pads'] = stride === 2 ? [0, 0, 1, 1] : [half, half, half, half];
  return conv(b, x, layer, { w, bias, O: C, I: oi, k, stride, pads, group: depthwise ? C : 1, act });
}

/** nsfwjs's MobileNetV2 up to the deepest wanted block (inverted residual blocks, residual where shapes allow). */
function mobilenetGraph(b: GraphBuilder, image: Feature, t: TensorMap, wanted: string[], where: string): Feature[] {
  const last = Math.max(...wanted.map((s) => MOBILENETV2_STAGES.indexOf(s as MobileNetV2Stage)));
  const out = new Map<string, Feature>();
  let x = b.scope('encoder.Conv1', () => kerasConvBn(b, image, t, 'Conv1', 'bn_Conv1', false, 2, 'relu6', where));
  for (const stage of MOBILENETV2_STAGES.slice(0, last + 1)) {
    x = b.scope(`encoder.${stage}`, () => {
      const stride = MBV2_STRIDE2.has(stage) ? 2 : 1;
      const l = (n: string) => [`${stage}_${n}`, `${stage}_${n}_BN`] as const;
      const e = stage === 'expanded_conv' ? x : kerasConvBn(b, x, t, ...l('expand'), false, 1, 'relu6', where);
      const d = kerasConvBn(b, e, t, ...l('depthwise'), true, stride, 'relu6', where);
      const y = kerasConvBn(b, d, t, ...l('project'), false, 1, 'linear', where);
      return stride === 1 && y.c === x.c ? { ...y, name: b.op('Add', [x.name, y.name]) } : y;
    });
    out.set(stage, x);
  }
  return wanted.map((s) => out.get(s)!);
}

/**
 * Normalised NCHW `image` [N, 3, H, W] → patch tokens [N, gh·gw, ΣC] and the grid. `weights` are torchvision
 * state-dict tensors (ResNets) or nsfwjs's dequantised Keras weights; `where` names them in errors.
 */
export function cnnTokenGraph(b: GraphBuilder, image: string, e: CnnEncoderConfig, weights: TensorMap, inputSize: [number, number], where: string): { tokens: string; grid: [number, number]; dim: number } {
  validateCnnEncoderConfig(e, where);
  const input: Feature = { name: image, c: 3, h: inputSize[0], w: inputSize[1] };
  const stages = e.kind === 'nsfwjs-mobilenetv2'
    ? mobilenetGraph(b, input, weights, e.layers, where)
    : resnetGraph(b, input, e.kind, weights, e.layers, where);
  return b.scope('encoder.tokens', () => {
    const grid: [number, number] = e.grid ? [e.grid, e.grid] : [stages[0].h, stages[0].w];
    const parts = stages.map((s) => {
      // PatchCore's AvgPool2d(3, 1, 1): zero padding counted in the mean.
      const a = e.localAverage ? b.op('AveragePool', [s.name], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], count_include_pad: 1 }) : s.name;
      return s.h === grid[0] && s.w === grid[1] ? a : resizeBilinear(b, a, grid, 'half_pixel');
    });
    const dim = stages.reduce((n, s) => n + s.c, 0);
    const cat = parts.length === 1 ? parts[0] : b.op('Concat', parts, { axis: 1 });
    const tokens = b.op('Transpose', [b.op('Reshape', [cat, b.ints([0, dim, grid[0] * grid[1]])])], { perm: [0, 2, 1] });
    return { tokens, grid, dim };
  });
}
