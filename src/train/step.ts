import * as tf from '@tensorflow/tfjs';
import { headForward } from '../inp-former/model.ts';
import { mapParams, uploadHead, type HeadParams } from '../inp-former/weights.ts';
import type { InpFormerConfig, TensorMap } from '../types.ts';
import { clipByGlobalNorm } from './clip.ts';
import { INP_TOKENS, isTrained, namedHeadParams, type NamedParam } from './head-params.ts';
import { type TrainMode } from './recipe.ts';
import { inpFormerLoss, pointDistanceSums, type LossTerms } from './loss.ts';
import { stableAdamWUpdate, zeroMoments, STABLE_ADAMW_DEFAULTS, type MomentState, type StableAdamWConfig } from './stable-adamw.ts';

/** The official global gradient-norm limit (`clip_grad_norm(..., max_norm=0.1)`). */
export const GRAD_CLIP_NORM = 0.1;

/** The head as tf.Variables plus the subset that is trained, each under its official name. */
export interface TrainableHead {
  config: InpFormerConfig;
  head: HeadParams;
  params: NamedParam[];
  trained: NamedParam[];
}

/** Uploads official-name head tensors as variables; only the tensors of `mode` are trainable. */
export function createTrainableHead(init: TensorMap, config: InpFormerConfig, mode: TrainMode): TrainableHead {
  const uploaded = uploadHead(init, config);
  const head = mapParams(uploaded, (t) => { const v = tf.variable(t); t.dispose(); return v; });
  const params = namedHeadParams(head, config);
  for (const p of params) (p.tensor as tf.Variable).trainable = isTrained(p.name, mode);
  return { config, head, params, trained: params.filter((p) => isTrained(p.name, mode)) };
}

export function disposeTrainableHead(h: TrainableHead): void {
  for (const p of h.params) p.tensor.dispose();
}

/** Tapped encoder layers of one micro-batch, each [m, N, C] (constants: the encoder is frozen). */
export type Layers = tf.Tensor3D[];

/**
 * Per-group sums of the soft-mining distance δ over micro-batches (no gradient), and how many tokens they cover:
 * summed over every part of a batch and divided, they give the batch's μ.
 */
export function distanceSums(h: TrainableHead, microBatches: Layers[]): { sums: tf.Tensor1D; count: number } {
  return {
    sums: tf.tidy(() => microBatches.map((layers) => tf.tidy(() => {
      const out = headForward(h.head, layers, h.config);
      return pointDistanceSums(out.en, out.de);
    })).reduce((a, b) => tf.add(a, b))),
    count: microBatches.reduce((n, l) => n + l[0].shape[0] * l[0].shape[1], 0),
  };
}

/**
 * No-grad pre-pass: μ_g, the mean of the soft-mining distance δ over the whole batch, for each group. Needed
 * when the batch runs as several micro-batches, so each of them weights its gradient as the full batch would.
 */
export function batchMu(h: TrainableHead, microBatches: Layers[]): tf.Scalar[] {
  const { sums, count } = distanceSums(h, microBatches);
  const mu = tf.tidy(() => tf.unstack(tf.div(sums, count)) as tf.Scalar[]);
  sums.dispose();
  return mu;
}

/**
 * Loss terms and gradients (in `h.trained` order, our layout) of one batch given as micro-batches. Each
 * micro-batch's loss is weighted by its share of the images and the gradients are summed, with μ from
 * `batchMu`, so the result equals one full-batch pass (the losses are means over images). Caller disposes.
 * When these micro-batches are only part of a batch (another thread has the rest), `part` gives the whole
 * batch's μ and image count, so the parts' results add up to the full batch's. With a `signal`, the event loop
 * gets a turn between micro-batches and an abort there throws (nothing is left allocated).
 */
export async function lossAndGradients(
  h: TrainableHead, microBatches: Layers[], part?: { mu: tf.Scalar[]; total: number }, signal?: AbortSignal,
): Promise<{ grads: tf.Tensor[]; terms: LossTerms<tf.Scalar> }> {
  const total = part?.total ?? microBatches.reduce((n, l) => n + l[0].shape[0], 0);
  const mu = part?.mu ?? (microBatches.length > 1 ? batchMu(h, microBatches) : undefined);
  const vars = h.trained.map((p) => p.tensor as tf.Variable);
  let grads: tf.Tensor[] | undefined;
  let terms: LossTerms<tf.Scalar> | undefined;
  for (const [k, layers] of microBatches.entries()) {
    if (signal && k > 0) {
      // A step of several micro-batches can take seconds: let a cancel message in between them, and stop there.
      await new Promise((r) => setTimeout(r, 0));
      if (signal.aborted) {
        tf.dispose([...grads!, terms!.loss, terms!.softMining, terms!.coherence]);
        if (!part) tf.dispose(mu);
        signal.throwIfAborted();
      }
    }
    const share = layers[0].shape[0] / total;
    let kept: LossTerms<tf.Scalar> | undefined;
    const r = tf.variableGrads(() => {
      const t = inpFormerLoss(headForward(h.head, layers, h.config), { mu });
      kept = { loss: tf.keep(tf.mul(t.loss, share)), softMining: tf.keep(tf.mul(t.softMining, share)), coherence: tf.keep(tf.mul(t.coherence, share)) };
      return share === 1 ? t.loss : tf.mul(t.loss, share) as tf.Scalar;
    }, vars);
    r.value.dispose();
    const g = vars.map((v) => r.grads[v.name]);
    if (!grads) grads = g;
    else {
      const sum = tf.tidy(() => grads!.map((a, i) => tf.add(a, g[i])));
      tf.dispose([...grads, ...g]);
      grads = sum;
    }
    terms = terms ? sumTerms(terms, kept!) : kept!;
  }
  if (!part) tf.dispose(mu);
  return { grads: grads!, terms: terms! };
}

function sumTerms(a: LossTerms<tf.Scalar>, b: LossTerms<tf.Scalar>): LossTerms<tf.Scalar> {
  const out = tf.tidy(() => ({ loss: tf.add(a.loss, b.loss), softMining: tf.add(a.softMining, b.softMining), coherence: tf.add(a.coherence, b.coherence) })) as LossTerms<tf.Scalar>;
  tf.dispose([a.loss, a.softMining, a.coherence, b.loss, b.softMining, b.coherence]);
  return out;
}

/** StableAdamW state: the number of steps taken and each trained tensor's moments, by official name. */
export interface OptimizerState { step: number; moments: Map<string, MomentState> }

export function createOptimizerState(h: TrainableHead): OptimizerState {
  return { step: 0, moments: new Map(h.trained.map((p) => [p.name, zeroMoments(p.tensor)])) };
}

export function disposeOptimizerState(s: OptimizerState): void {
  for (const m of s.moments.values()) tf.dispose([m.m, m.v, m.vMax]);
}

/**
 * The official update after backward: global-norm clipping of the gradients, then one StableAdamW step per
 * trained tensor, written into the variables. Disposes `grads`; returns the norm before clipping. `tokenLrScale`
 * multiplies the INP tokens' rate (fine-tunes: tokens start N(0, 1), ~100× the scale of the weights).
 */
export function applyGradients(
  h: TrainableHead, opt: OptimizerState, grads: tf.Tensor[], lr: number,
  o: { maxNorm?: number; adamw?: StableAdamWConfig; tokenLrScale?: number } = {},
): tf.Scalar {
  const { clipped, norm } = clipByGlobalNorm(grads, o.maxNorm ?? GRAD_CLIP_NORM);
  tf.dispose(grads);
  opt.step += 1;
  h.trained.forEach((p, i) => {
    const prev = opt.moments.get(p.name)!;
    const rate = p.name === INP_TOKENS && o.tokenLrScale !== undefined ? lr * o.tokenLrScale : lr;
    const r = stableAdamWUpdate(p.tensor, clipped[i], prev, opt.step, rate, o.adamw ?? STABLE_ADAMW_DEFAULTS);
    (p.tensor as tf.Variable).assign(r.param);
    tf.dispose([r.param, r.rho, prev.m, prev.v, prev.vMax]);
    opt.moments.set(p.name, r.state);
  });
  tf.dispose(clipped);
  return norm;
}
