import * as tf from '@tensorflow/tfjs';
import { CheckpointError } from '../errors.ts';
import type { TensorMap } from '../types.ts';
import { RESNET_STAGES, type ResNetKind, type ResNetStage } from './cnn-config.ts';

export { RESNET_STAGES, type ResNetKind, type ResNetStage } from './cnn-config.ts';


/** torchvision's definitions: blocks per stage, Bottleneck or BasicBlock, and width_per_group / 64. */
const ARCH: Record<ResNetKind, { blocks: number[]; bottleneck: boolean; widthFactor: number }> = {
  resnet18: { blocks: [2, 2, 2, 2], bottleneck: false, widthFactor: 1 },
  resnet50: { blocks: [3, 4, 6, 3], bottleneck: true, widthFactor: 1 },
  wide_resnet50_2: { blocks: [3, 4, 6, 3], bottleneck: true, widthFactor: 2 },
};

/** torchvision BatchNorm2d's default epsilon. */
const BN_EPS = 1e-5;

/** One conv + its BatchNorm as torchvision names them, with the OIHW shape the architecture implies. */
interface ConvSpec { conv: string; bn: string; shape: [number, number, number, number]; stride: number; pad: number }
interface BlockSpec { convs: ConvSpec[]; downsample?: ConvSpec }

const STEM: ConvSpec = { conv: 'conv1', bn: 'bn1', shape: [64, 3, 7, 7], stride: 2, pad: 3 };

/** The four stages' blocks, following torchvision's _make_layer (stride on the 3×3 conv: ResNet v1.5). */
function stageSpecs(kind: ResNetKind): BlockSpec[][] {
  const { blocks, bottleneck, widthFactor } = ARCH[kind];
  const expansion = bottleneck ? 4 : 1;
  let inplanes = 64;
  return blocks.map((n, s) => {
    const planes = 64 << s;
    const out = planes * expansion;
    const width = planes * widthFactor;
    const stage: BlockSpec[] = [];
    for (let b = 0; b < n; b++) {
      const p = `layer${s + 1}.${b}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      const c = (i: number, shape: ConvSpec['shape'], st: number, pad: number): ConvSpec => ({ conv: `${p}.conv${i}`, bn: `${p}.bn${i}`, shape, stride: st, pad });
      const convs = bottleneck
        ? [c(1, [width, inplanes, 1, 1], 1, 0), c(2, [width, width, 3, 3], stride, 1), c(3, [out, width, 1, 1], 1, 0)]
        : [c(1, [planes, inplanes, 3, 3], stride, 1), c(2, [planes, planes, 3, 3], 1, 1)];
      const downsample = stride !== 1 || inplanes !== out
        ? { conv: `${p}.downsample.0`, bn: `${p}.downsample.1`, shape: [out, inplanes, 1, 1] as ConvSpec['shape'], stride, pad: 0 }
        : undefined;
      stage.push({ convs, downsample });
      inplanes = out;
    }
    return stage;
  });
}

function keysOf(c: ConvSpec): string[] {
  return [`${c.conv}.weight`, ...['weight', 'bias', 'running_mean', 'running_var'].map((f) => `${c.bn}.${f}`)];
}

function specsOf(stage: BlockSpec[]): ConvSpec[] {
  return stage.flatMap((b) => (b.downsample ? [...b.convs, b.downsample] : b.convs));
}

/**
 * Which stages this state dict can compute: a stage needs the stem and every stage before it. `missing` lists,
 * per stage, the absent tensors that computing it would need (empty for usable stages).
 */
export function resnetStages(kind: ResNetKind, t: TensorMap): { usable: ResNetStage[]; missing: Map<ResNetStage, string[]> } {
  const missing = new Map<ResNetStage, string[]>();
  let needed = keysOf(STEM).filter((k) => !t.has(k));
  stageSpecs(kind).forEach((stage, s) => {
    needed = [...needed, ...specsOf(stage).flatMap(keysOf).filter((k) => !t.has(k))];
    missing.set(RESNET_STAGES[s], needed);
  });
  return { usable: RESNET_STAGES.filter((s) => missing.get(s)!.length === 0), missing };
}

/** A conv with its BatchNorm folded in: HWIO filter and bias, stride, symmetric padding. */
interface FoldedConv { w: tf.Tensor4D; b: tf.Tensor1D; stride: number; pad: number }

function floatData(t: TensorMap, key: string, shape: readonly number[], where: string): ArrayLike<number> {
  const v = t.get(key)!;
  if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
    throw new CheckpointError(`${where}: ${key}`, `shape [${v.shape}] does not match the architecture's [${shape}]`);
  }
  if (v.data instanceof BigInt64Array || !['F32', 'F64', 'F16', 'BF16'].includes(v.dtype)) {
    throw new CheckpointError(`${where}: ${key}`, `dtype ${v.dtype} is not a float type`);
  }
  return v.data;
}

/**
 * Eval-mode BatchNorm after a bias-free conv is affine per output channel, so it folds into the conv:
 * W' = W·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε). Done once at load, it removes every BN op from the forward pass.
 */
function fold(t: TensorMap, c: ConvSpec, where: string): FoldedConv {
  const [O, I, kh, kw] = c.shape;
  const src = floatData(t, `${c.conv}.weight`, c.shape, where);
  const [g, beta, mean, variance] = ['weight', 'bias', 'running_mean', 'running_var'].map((f) => floatData(t, `${c.bn}.${f}`, [O], where));
  const hwio = new Float32Array(O * I * kh * kw);
  const bias = new Float32Array(O);
  for (let o = 0; o < O; o++) {
    const s = g[o] / Math.sqrt(variance[o] + BN_EPS);
    bias[o] = beta[o] - mean[o] * s;
    for (let i = 0; i < I; i++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) hwio[((y * kw + x) * I + i) * O + o] = src[((o * I + i) * kh + y) * kw + x] * s;
      }
    }
  }
  return { w: tf.tensor4d(hwio, [kh, kw, I, O]), b: tf.tensor1d(bias), stride: c.stride, pad: c.pad };
}

function conv(x: tf.Tensor4D, c: FoldedConv, relu: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    // Explicit symmetric padding is PyTorch's; 'same' pads bottom/right only for stride 2 and would shift the grid.
    const xp = c.pad ? tf.pad(x, [[0, 0], [c.pad, c.pad], [c.pad, c.pad], [0, 0]]) : x;
    return tf.fused.conv2d({ x: xp, filter: c.w, strides: c.stride, pad: 'valid', bias: c.b, activation: relu ? 'relu' : 'linear' });
  });
}

export interface ResNet {
  readonly kind: ResNetKind;
  /** Stages whose weights (and those of every earlier stage) are all present. */
  readonly stages: ResNetStage[];
  /** Normalised NCHW input → the requested stages' outputs, NHWC. The caller disposes them. */
  forward(input: tf.Tensor4D, stages: readonly ResNetStage[]): Map<ResNetStage, tf.Tensor4D>;
  dispose(): void;
}

/**
 * A frozen torchvision ResNet from its state dict (torchvision key names). Only usable stages are built; asking
 * for another throws a CheckpointError naming the missing tensors. `where` names the checkpoint in errors.
 */
export function createResNet(kind: ResNetKind, t: TensorMap, where: string): ResNet {
  const { usable, missing } = resnetStages(kind, t);
  if (!usable.length) throw new CheckpointError(where, `no usable ${kind} stage: missing ${missing.get('layer1')!.slice(0, 6).join(', ')}`);
  const folded: FoldedConv[] = [];
  const load = (c: ConvSpec) => { const f = fold(t, c, where); folded.push(f); return f; };
  let stem: FoldedConv;
  let layers: Array<Array<{ convs: FoldedConv[]; downsample?: FoldedConv }>>;
  try {
    stem = load(STEM);
    layers = stageSpecs(kind).slice(0, usable.length).map((stage) => stage.map((b) => ({
      convs: b.convs.map(load),
      downsample: b.downsample && load(b.downsample),
    })));
  } catch (e) {
    tf.dispose(folded.flatMap((f) => [f.w, f.b]));
    throw e;
  }

  return {
    kind,
    stages: usable,
    forward(input, wanted) {
      for (const w of wanted) {
        if (!usable.includes(w)) {
          const m = missing.get(w)!;
          throw new CheckpointError(where, `${w} is not usable: missing ${m.slice(0, 6).join(', ')}${m.length > 6 ? ` and ${m.length - 6} more` : ''} (usable: ${usable.join(', ')})`);
        }
      }
      const last = Math.max(...wanted.map((w) => RESNET_STAGES.indexOf(w)));
      const out = new Map<ResNetStage, tf.Tensor4D>();
      tf.tidy(() => {
        let x = conv(tf.transpose(input, [0, 2, 3, 1]), stem, true);
        // After the ReLU every value is ≥ 0, so zero padding gives the same maxima as PyTorch's −∞ padding.
        x = tf.maxPool(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 'valid');
        for (let s = 0; s <= last; s++) {
          for (const blk of layers[s]) {
            const identity = blk.downsample ? conv(x, blk.downsample, false) : x;
            let y = x;
            blk.convs.forEach((c, i) => { y = conv(y, c, i < blk.convs.length - 1); });
            x = tf.relu(tf.add(y, identity));
          }
          if (wanted.includes(RESNET_STAGES[s])) out.set(RESNET_STAGES[s], tf.keep(x));
        }
      });
      return out;
    },
    dispose() {
      tf.dispose(folded.flatMap((f) => [f.w, f.b]));
    },
  };
}
