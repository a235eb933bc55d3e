import * as tf from '@tensorflow/tfjs';
import { CheckpointError } from '../errors.ts';
import type { HostTensor, TensorMap } from '../types.ts';

export type ResNetKind = 'resnet18' | 'resnet50' | 'wide_resnet50_2';
export type ResNetStage = 'layer1' | 'layer2' | 'layer3' | 'layer4';
export const RESNET_STAGES: readonly ResNetStage[] = ['layer1', 'layer2', 'layer3', 'layer4'];

const BLOCKS: Record<ResNetKind, number[]> = { resnet18: [2, 2, 2, 2], resnet50: [3, 4, 6, 3], wide_resnet50_2: [3, 4, 6, 3] };

/** A convolution with its BatchNorm folded in: HWIO filter + bias, plus stride and symmetric padding. */
interface FoldedConv { w: tf.Tensor4D; b: tf.Tensor1D; stride: number; pad: number }
interface Block { convs: FoldedConv[]; downsample?: FoldedConv }

function get(t: TensorMap, k: string, where: string): HostTensor {
  const v = t.get(k);
  if (!v) throw new CheckpointError(`${where}: ${k}`, 'tensor is missing');
  return v;
}

/**
 * conv (OIHW, no bias) followed by eval-mode BatchNorm (eps 1e-5) → one conv: W·γ/√(σ²+ε), β − μ·γ/√(σ²+ε).
 * Folding at load time removes the BN ops from every forward pass.
 */
function fold(t: TensorMap, conv: string, bn: string, stride: number, pad: number, where: string): FoldedConv {
  const w = get(t, `${conv}.weight`, where);
  const [O, I, kh, kw] = w.shape;
  const g = get(t, `${bn}.weight`, where).data as Float32Array;
  const beta = get(t, `${bn}.bias`, where).data as Float32Array;
  const mean = get(t, `${bn}.running_mean`, where).data as Float32Array;
  const variance = get(t, `${bn}.running_var`, where).data as Float32Array;
  const hwio = new Float32Array(O * I * kh * kw);
  const bias = new Float32Array(O);
  const src = w.data as Float32Array;
  for (let o = 0; o < O; o++) {
    const s = g[o] / Math.sqrt(variance[o] + 1e-5);
    bias[o] = beta[o] - mean[o] * s;
    for (let i = 0; i < I; i++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) hwio[((y * kw + x) * I + i) * O + o] = src[((o * I + i) * kh + y) * kw + x] * s;
      }
    }
  }
  return { w: tf.tensor4d(hwio, [kh, kw, I, O]), b: tf.tensor1d(bias), stride, pad };
}

function conv(x: tf.Tensor4D, c: FoldedConv, relu: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    // Explicit symmetric padding: PyTorch's, which 'same' does not reproduce for stride 2.
    const xp = c.pad ? tf.pad(x, [[0, 0], [c.pad, c.pad], [c.pad, c.pad], [0, 0]]) : x;
    const y = tf.add(tf.conv2d(xp, c.w, c.stride, 'valid'), c.b) as tf.Tensor4D;
    return relu ? tf.relu(y) : y;
  });
}

export interface ResNet {
  readonly kind: ResNetKind;
  /** Stages whose weights are all present. */
  readonly stages: ResNetStage[];
  /** NCHW normalised input → the requested stages' outputs, NHWC. Caller disposes them. */
  forward(input: tf.Tensor4D, stages: readonly ResNetStage[]): Map<ResNetStage, tf.Tensor4D>;
  dispose(): void;
}

function stagePresent(t: TensorMap, stage: number, blocks: number, bottleneck: boolean): string[] {
  const missing: string[] = [];
  for (let b = 0; b < blocks; b++) {
    for (let c = 1; c <= (bottleneck ? 3 : 2); c++) {
      const k = `layer${stage}.${b}.conv${c}.weight`;
      if (!t.has(k)) missing.push(k);
    }
  }
  return missing;
}

/** A torchvision ResNet from its state dict (torchvision key names), frozen, BatchNorm folded. */
export function createResNet(kind: ResNetKind, t: TensorMap, where: string): ResNet {
  const bottleneck = kind !== 'resnet18';
  const missingByStage = BLOCKS[kind].map((n, s) => stagePresent(t, s + 1, n, bottleneck));
  const stages = RESNET_STAGES.filter((_, s) => missingByStage.slice(0, s + 1).every((m) => m.length === 0));
  if (!stages.length) throw new CheckpointError(where, `no usable ${kind} stage: missing ${missingByStage[0].slice(0, 3).join(', ')}`);
  const stem = fold(t, 'conv1', 'bn1', 2, 3, where);
  const layers: Block[][] = stages.map((_, s) => Array.from({ length: BLOCKS[kind][s] }, (_, b) => {
    const p = `layer${s + 1}.${b}`;
    const stride = s > 0 && b === 0 ? 2 : 1;
    const convs = bottleneck
      ? [fold(t, `${p}.conv1`, `${p}.bn1`, 1, 0, where), fold(t, `${p}.conv2`, `${p}.bn2`, stride, 1, where), fold(t, `${p}.conv3`, `${p}.bn3`, 1, 0, where)]
      : [fold(t, `${p}.conv1`, `${p}.bn1`, stride, 1, where), fold(t, `${p}.conv2`, `${p}.bn2`, 1, 1, where)];
    const downsample = t.has(`${p}.downsample.0.weight`) ? fold(t, `${p}.downsample.0`, `${p}.downsample.1`, stride, 0, where) : undefined;
    return { convs, downsample };
  }));
  const all = [stem, ...layers.flat().flatMap((b) => [...b.convs, ...(b.downsample ? [b.downsample] : [])])];

  return {
    kind, stages,
    forward(input, wanted) {
      for (const w of wanted) {
        if (!stages.includes(w)) {
          const s = RESNET_STAGES.indexOf(w);
          throw new CheckpointError(where, `${w} is not usable: missing ${missingByStage.slice(0, s + 1).flat().slice(0, 4).join(', ')} (usable: ${stages.join(', ')})`);
        }
      }
      const last = Math.max(...wanted.map((w) => RESNET_STAGES.indexOf(w)));
      const out = new Map<ResNetStage, tf.Tensor4D>();
      tf.tidy(() => {
        let x = conv(input.transpose([0, 2, 3, 1]) as tf.Tensor4D, stem, true);
        // After ReLU every value is ≥ 0, so zero padding equals PyTorch's −inf padding for this max-pool.
        x = tf.maxPool(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 'valid');
        for (let s = 0; s <= last; s++) {
          for (const blk of layers[s]) {
            const id = blk.downsample ? conv(x, blk.downsample, false) : x;
            let y = x;
            blk.convs.forEach((c, i) => { y = conv(y, c, i < blk.convs.length - 1); });
            x = tf.relu(tf.add(y, id));
          }
          if (wanted.includes(RESNET_STAGES[s])) out.set(RESNET_STAGES[s], tf.keep(x));
        }
      });
      return out;
    },
    dispose() {
      for (const c of all) { c.w.dispose(); c.b.dispose(); }
    },
  };
}
