import * as tf from '@tensorflow/tfjs';
import { expectedHeadShapes } from '../checkpoint/load.ts';
import { InputError } from '../errors.ts';
import type { CrossBlockParams, HeadParams } from '../inp-former/weights.ts';
import type { Linear, Mlp, Norm } from '../runtime/ops.ts';
import type { InpFormerConfig, TensorMap } from '../types.ts';
import type { TrainMode } from './recipe.ts';

/** The INP tokens' official name. */
export const INP_TOKENS = 'prototype_token';

/** One head tensor under its official name. Linear weights are held [in, out] here and [out, in] officially. */
export interface NamedParam { name: string; tensor: tf.Tensor; transposed: boolean }

/** Every head tensor with its official key, in the official state-dict order (`expectedHeadShapes`). */
export function namedHeadParams(head: HeadParams, config: InpFormerConfig): NamedParam[] {
  const byName = new Map<string, NamedParam>();
  const add = (name: string, tensor: tf.Tensor, transposed = false) => byName.set(name, { name, tensor, transposed });
  const linear = (p: string, l: Linear) => { add(`${p}.weight`, l.w, true); add(`${p}.bias`, l.b); };
  const norm = (p: string, n: Norm) => { add(`${p}.weight`, n.g); add(`${p}.bias`, n.b); };
  const mlp = (p: string, m: Mlp) => { linear(`${p}.fc1`, m.fc1); linear(`${p}.fc2`, m.fc2); };
  const cross = (p: string, b: CrossBlockParams) => {
    norm(`${p}.norm1`, b.norm1); linear(`${p}.attn.q`, b.q); linear(`${p}.attn.kv`, b.kv); linear(`${p}.attn.proj`, b.proj);
    norm(`${p}.norm2`, b.norm2); mlp(`${p}.mlp`, b.mlp);
  };
  add('prototype_token', head.prototypes);
  mlp('bottleneck.0', head.bottleneck);
  cross('aggregation.0', head.extractor);
  head.decoder.forEach((b, i) => { cross(`decoder.${i}`, b); add(`decoder.${i}.attn.learn_scale`, b.learnScale); });
  return [...expectedHeadShapes(config).keys()].map((k) => {
    const p = byName.get(k);
    if (!p) throw new Error(`head has no tensor for ${k}`);
    return p;
  });
}

/** Whether the official key `name` is trained in `mode`. */
export function isTrained(name: string, mode: TrainMode): boolean {
  if (mode === 'full') return true;
  return name === INP_TOKENS || (mode === 'tokens+extractor' && name.startsWith('aggregation.'));
}

/** A tensor in our layout → the official layout ([out, in] Linear weights, [h, 1, 1] learn_scale). New tensor. */
export function toOfficialLayout(p: NamedParam, officialShape: number[]): tf.Tensor {
  return tf.tidy(() => (p.transposed ? tf.transpose(p.tensor) : p.tensor).reshape(officialShape));
}

/** Inverse of toOfficialLayout for host data under an official name (for optimiser state and checkpoints). */
export function fromOfficialLayout(p: NamedParam, data: Float32Array, officialShape: number[]): tf.Tensor {
  return tf.tidy(() => {
    const t = tf.tensor(data, officialShape, 'float32');
    return p.transposed ? tf.transpose(t) : t.reshape(p.tensor.shape);
  });
}

/** The head as official-name host tensors (F32), ready for a model folder or an official `.safetensors`. */
export async function headToTensorMap(head: HeadParams, config: InpFormerConfig): Promise<TensorMap> {
  return tensorsToMap(namedHeadParams(head, config), config, (p) => p.tensor);
}

/** Host copies, in official layout, of `pick(p)` for every named parameter (weights, or an optimiser moment). */
export async function tensorsToMap(
  params: NamedParam[], config: InpFormerConfig, pick: (p: NamedParam) => tf.Tensor,
): Promise<TensorMap> {
  const shapes = expectedHeadShapes(config);
  const out: TensorMap = new Map();
  for (const p of params) {
    const shape = shapes.get(p.name)!;
    const t = toOfficialLayout({ ...p, tensor: pick(p) }, shape);
    out.set(p.name, { dtype: 'F32', shape, data: (await t.data()) as Float32Array });
    t.dispose();
  }
  return out;
}

/** Checks that `tensors` holds every head key with its official shape (names the file/key on failure). */
export function checkHeadTensors(tensors: TensorMap, config: InpFormerConfig, where: string, prefix = ''): void {
  for (const [k, shape] of expectedHeadShapes(config)) {
    const t = tensors.get(prefix + k);
    if (!t) throw new InputError(`${where}: ${prefix}${k}`, 'tensor is missing');
    if (t.shape.join() !== shape.join()) throw new InputError(`${where}: ${prefix}${k}`, `has shape [${t.shape}], expected [${shape}]`);
  }
}
