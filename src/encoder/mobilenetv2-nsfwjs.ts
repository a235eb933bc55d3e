import * as tf from '@tensorflow/tfjs';
import { CheckpointError } from '../errors.ts';
import type { TensorMap } from '../types.ts';
import { MOBILENETV2_STAGES, type MobileNetV2Stage } from './cnn-config.ts';

export { MOBILENETV2_STAGES, NSFWJS_MEAN, NSFWJS_STD, type MobileNetV2Stage } from './cnn-config.ts';

/**
 * Keras MobileNetV2 (α = 1) as shipped in nsfwjs 4.4.0, rebuilt from its weights up to block_10. In nsfwjs's
 * model every layer through block_10_project_BN is `trainable: false`, i.e. still the ImageNet weights; later
 * blocks were retrained for its own classes, so they are not offered. Inputs: nsfwjs feeds pixels / 255
 * (NSFWJS.infer), so in torchvision terms mean 0 and std 1 on ToTensor's [0, 1] values.
 */



/** keras.layers.BatchNormalization epsilon in keras.applications.MobileNetV2 (from the model's topology). */
const BN_EPS = 1e-3;
/** Blocks with a stride-2 depthwise conv; Keras pads them (0, 1) × (0, 1) with ZeroPadding2D, then 'valid'. */
const STRIDE2 = new Set<MobileNetV2Stage>(['block_1', 'block_3', 'block_6']);

interface Folded { w: tf.Tensor4D; b: tf.Tensor1D }
interface Block { expand?: Folded; depthwise: Folded; project: Folded; stride: number; residual: boolean }

/** The tensors a block reads: `[layer, weight field, BN layer]` per conv, in order. */
function blockLayers(stage: MobileNetV2Stage): Array<[string, 'kernel' | 'depthwise_kernel', string]> {
  const conv = (l: string, f: 'kernel' | 'depthwise_kernel'): [string, typeof f, string] => [`${stage}_${l}`, f, `${stage}_${l}_BN`];
  return [...(stage === 'expanded_conv' ? [] : [conv('expand', 'kernel')]), conv('depthwise', 'depthwise_kernel'), conv('project', 'kernel')];
}

const STEM: [string, 'kernel', string] = ['Conv1', 'kernel', 'bn_Conv1'];
const BN_FIELDS = ['gamma', 'beta', 'moving_mean', 'moving_variance'];

/**
 * Kernel (HWIO, or HW·C·1 for a depthwise conv) + BatchNorm → one kernel and bias. The BN channel is the
 * kernel's last axis for a conv and its third for a depthwise conv with multiplier 1; in both layouts that is
 * the flat index modulo the channel count. `inCh` is the channel count the previous layer produced.
 */
function fold(t: TensorMap, [layer, field, bn]: [string, string, string], inCh: number, where: string): Folded {
  const k = t.get(`${layer}/${field}`)!;
  const C = t.get(`${bn}/gamma`)!.shape[0];
  const depthwise = field === 'depthwise_kernel';
  const [, , I, O] = k.shape;
  if (k.shape.length !== 4 || I !== inCh || (depthwise ? O !== 1 || I !== C : O !== C)) {
    throw new CheckpointError(`${where}: ${layer}/${field}`, `shape [${k.shape}] does not fit ${inCh} input channels and ${C}-channel ${bn}`);
  }
  const [g, beta, mean, variance] = BN_FIELDS.map((f) => {
    const v = t.get(`${bn}/${f}`)!;
    if (v.shape.length !== 1 || v.shape[0] !== C) throw new CheckpointError(`${where}: ${bn}/${f}`, `shape [${v.shape}], expected [${C}]`);
    return v.data as Float32Array;
  });
  const scale = Float32Array.from({ length: C }, (_, c) => g[c] / Math.sqrt(variance[c] + BN_EPS));
  const src = k.data as Float32Array;
  const w = Float32Array.from(src, (v, e) => v * scale[e % C]);
  const b = Float32Array.from({ length: C }, (_, c) => beta[c] - mean[c] * scale[c]);
  return { w: tf.tensor4d(w, k.shape as [number, number, number, number]), b: tf.tensor1d(b) };
}

export interface MobileNetV2 {
  readonly stages: readonly MobileNetV2Stage[];
  /** NCHW input normalised as nsfwjs does (pixels / 255) → the requested blocks' outputs, NHWC. Caller disposes. */
  forward(input: tf.Tensor4D, stages: readonly MobileNetV2Stage[]): Map<MobileNetV2Stage, tf.Tensor4D>;
  dispose(): void;
}

/** Builds the frozen part of nsfwjs's MobileNetV2 from its dequantised weights (nsfwjsTensors); `where` names the source in errors. */
export function createNsfwjsMobileNetV2(t: TensorMap, where: string): MobileNetV2 {
  const layers = [STEM, ...MOBILENETV2_STAGES.flatMap(blockLayers)];
  const missing = layers.flatMap(([l, f, bn]) => [`${l}/${f}`, ...BN_FIELDS.map((x) => `${bn}/${x}`)]).filter((k) => !t.has(k));
  if (missing.length) throw new CheckpointError(where, `not an nsfwjs MobileNetV2: missing ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ` and ${missing.length - 6} more` : ''}`);

  const all: Folded[] = [];
  const load = (l: [string, string, string], inCh: number) => { const f = fold(t, l, inCh, where); all.push(f); return f; };
  let stem: Folded;
  const blocks: Block[] = [];
  try {
    stem = load(STEM, 3);
    let ch = stem.b.shape[0];
    for (const stage of MOBILENETV2_STAGES) {
      const specs = blockLayers(stage);
      const expand = specs.length === 3 ? load(specs[0], ch) : undefined;
      const mid = expand ? expand.b.shape[0] : ch;
      const depthwise = load(specs[specs.length - 2], mid);
      const project = load(specs[specs.length - 1], mid);
      const stride = STRIDE2.has(stage) ? 2 : 1;
      const out = project.b.shape[0];
      // keras.applications' _inverted_res_block adds the input back exactly when shapes allow it.
      blocks.push({ expand, depthwise, project, stride, residual: stride === 1 && out === ch });
      ch = out;
    }
  } catch (e) {
    tf.dispose(all.flatMap((f) => [f.w, f.b]));
    throw e;
  }

  const padBR = (x: tf.Tensor4D) => tf.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]]);
  const pointwise = (x: tf.Tensor4D, f: Folded, act: 'relu6' | 'linear') =>
    tf.fused.conv2d({ x, filter: f.w, strides: 1, pad: 'valid', bias: f.b, activation: act });

  return {
    stages: MOBILENETV2_STAGES,
    forward(input, wanted) {
      const last = Math.max(...wanted.map((s) => MOBILENETV2_STAGES.indexOf(s)));
      if (last < 0 || wanted.some((s) => !MOBILENETV2_STAGES.includes(s))) {
        throw new CheckpointError(where, `MobileNetV2 stages are ${MOBILENETV2_STAGES.join(', ')} (later blocks are not ImageNet weights in nsfwjs); asked for ${wanted.join(', ')}`);
      }
      const out = new Map<MobileNetV2Stage, tf.Tensor4D>();
      tf.tidy(() => {
        let x: tf.Tensor4D = tf.fused.conv2d({ x: padBR(tf.transpose(input, [0, 2, 3, 1])), filter: stem.w, strides: 2, pad: 'valid', bias: stem.b, activation: 'relu6' });
        for (let s = 0; s <= last; s++) {
          const blk = blocks[s];
          let y = blk.expand ? pointwise(x, blk.expand, 'relu6') : x;
          // Stride 1 'same' with a 3×3 kernel pads 1 on every side: symmetric, so tfjs's 'same' is Keras's.
          y = tf.fused.depthwiseConv2d({ x: blk.stride === 2 ? padBR(y) : y, filter: blk.depthwise.w, strides: blk.stride, pad: blk.stride === 2 ? 'valid' : 'same', bias: blk.depthwise.b, activation: 'relu6' });
          y = pointwise(y, blk.project, 'linear');
          x = blk.residual ? tf.add(x, y) : y;
          if (wanted.includes(MOBILENETV2_STAGES[s])) out.set(MOBILENETV2_STAGES[s], tf.keep(x));
        }
      });
      return out;
    },
    dispose() {
      tf.dispose(all.flatMap((f) => [f.w, f.b]));
    },
  };
}
