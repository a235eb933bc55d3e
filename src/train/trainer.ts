import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { seededRandom } from '../inp-former/init.ts';
import type { InpFormerConfig, Progress, TensorMap } from '../types.ts';
import { fewShotViews } from './augment.ts';
import { FeatureCache, type FeatureEncoder, type FeatureStore } from './features.ts';
import { TRAIN_MODES, type TrainMode } from './recipe.ts';
import type { LossTerms } from './loss.ts';
import { ParallelGradients, type GradientChannel } from './parallel.ts';
import { validateSchedule, warmCosineLr } from './schedule.ts';
import { captureState, restoreOptimizer, type RunSettings, type TrainState } from './state.ts';
import {
  applyGradients, createOptimizerState, createTrainableHead, disposeOptimizerState, disposeTrainableHead, lossAndGradients,
  type TrainableHead,
} from './step.ts';

/**
 * Normal training images, normalised NCHW: tensors of [n, 3, H, W] (owned by the caller), or a provider that
 * returns image i as [1, 3, H, W] (the trainer disposes what it returns). Single-class and multi-class
 * training differ only in what is passed: one category's normals, or several categories' pooled together.
 */
export type TrainImages = tf.Tensor4D[] | {
  count: number;
  load(index: number): tf.Tensor4D | Promise<tf.Tensor4D>;
  /** Image i's FeatureStore key (see FeatureStore); without it nothing is stored. */
  key?(index: number): Promise<string>;
};


export interface TrainOptions {
  /** The frozen encoder (`InpFormer.encode` or a CNN token encoder). */
  encoder: FeatureEncoder;
  config: InpFormerConfig;
  /** Head weights to start from, official names: `initHead(config, seed)` or a trained model's head. */
  init: TensorMap;
  data: TrainImages;
  /** Default 'full'; 'tokens' / 'tokens+extractor' fine-tune an existing head. */
  mode?: TrainMode;
  /** Images per optimiser step (official 16); capped at the number of training items. */
  batchSize?: number;
  /** Images per forward/backward pass; smaller than batchSize accumulates gradients (bounds wasm memory). */
  microBatch?: number;
  /**
   * Gradient threads (Node: `startGradientThreads`), each computing a shard of every batch with its own tfjs:
   * wasm uses one core per instance, so this is how a step uses several. The caller starts and closes them.
   * Same step as one thread up to float rounding (gradients are summed in another order).
   */
  threads?: GradientChannel[];
  /** Optimiser steps; or give `epochs` (steps = epochs × ⌊items / batch⌋, drop_last as the reference). */
  steps?: number;
  epochs?: number;
  /** Peak learning rate (1e-3), final learning rate of the cosine (1e-4), warm-up steps (100). */
  lr?: number;
  /** Peak learning rate of the INP tokens (default `lr`), on the same schedule. */
  tokenLr?: number;
  finalLr?: number;
  warmupSteps?: number;
  /** Seeds the per-epoch shuffle: same seed, same data, same backend → same result. */
  seed?: number;
  /** Reshuffle every epoch (default true); false keeps the data order. */
  shuffle?: boolean;
  /** Expand every image into the 22 few-shot views of spec §3 (K-shot training). */
  fewShot?: boolean;
  /** Images per encoder pass while filling the feature cache (default 4). */
  encodeBatch?: number;
  /** Features kept across runs (Node: a folder); used for images whose provider gives a key. */
  featureStore?: FeatureStore;
  onProgress?: (e: Progress) => void;
  /** Stops between steps; the result then holds a resumable state. */
  signal?: AbortSignal;
  /** Continue a saved run: its head, optimiser moments, step and run settings replace init and the options above. */
  resume?: TrainState;
}

export interface TrainResult {
  /** Trained head, official names (merge with the encoder's tensors for a model folder or an official export). */
  head: TensorMap;
  state: TrainState;
  cancelled: boolean;
}

const where = 'train options';

function positiveInt(v: number | undefined, field: string, fallback: number): number {
  const n = v ?? fallback;
  if (!Number.isSafeInteger(n) || n < 1) throw new InputError(`${where}: ${field}`, `must be a positive integer, got ${v}`);
  return n;
}

/** Item order of one epoch: a seeded Fisher–Yates shuffle per (seed, epoch), so a resumed run sees the same data. */
export function epochOrder(n: number, seed: number, epoch: number, shuffle: boolean): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  if (!shuffle) return order;
  const rand = seededRandom((Math.imul(seed, 0x9e3779b1) ^ epoch) >>> 0);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

async function fillCache(o: TrainOptions, cache: FeatureCache, started: number): Promise<void> {
  const data = o.data;
  const count = Array.isArray(data) ? data.length : data.count;
  if (count < 1) throw new InputError(`${where}: data`, 'holds no images');
  for (let i = 0; i < count; i++) {
    o.signal?.throwIfAborted();
    const key = o.featureStore && !Array.isArray(data) && data.key ? await data.key(i) : undefined;
    const stored = key ? await o.featureStore!.get(key) : undefined;
    if (stored) cache.addCached(stored, `data[${i}] (feature store ${key})`);
    else {
      const first = cache.size;
      await encodeImage(o, cache, i);
      if (key) await o.featureStore!.put(key, cache.itemsFrom(first));
    }
    o.onProgress?.({ stage: 'encode', done: i + 1, total: count, elapsedSeconds: (performance.now() - started) / 1000 });
  }
}

/** Encodes training image i (or its few-shot views) into the cache. */
async function encodeImage(o: TrainOptions, cache: FeatureCache, i: number): Promise<void> {
  const data = o.data;
  const per = positiveInt(o.encodeBatch, 'encodeBatch', 4);
  const given = Array.isArray(data) ? data[i] : await data.load(i);
  try {
    if (given.rank !== 4 || given.shape[1] !== 3) throw new InputError(`${where}: data[${i}]`, `must be [n, 3, H, W], got [${given.shape}]`);
    const x = o.fewShot ? await viewsOf(given) : given;
    try {
      for (let s = 0; s < x.shape[0]; s += per) {
        const chunk = tf.tidy(() => x.slice([s, 0, 0, 0], [Math.min(per, x.shape[0] - s), -1, -1, -1]));
        await cache.add(o.encoder, chunk).finally(() => chunk.dispose());
      }
    } finally {
      if (x !== given) x.dispose();
    }
  } finally {
    if (!Array.isArray(data)) given.dispose();
  }
}

/** The 22 few-shot views of every image of a [n, 3, H, W] batch. */
async function viewsOf(x: tf.Tensor4D): Promise<tf.Tensor4D> {
  const views: tf.Tensor4D[] = [];
  for (let i = 0; i < x.shape[0]; i++) {
    const one = x.slice([i, 0, 0, 0], [1, -1, -1, -1]);
    views.push(await fewShotViews(one));
    one.dispose();
  }
  const all = tf.concat(views, 0);
  tf.dispose(views);
  return all;
}

function settingsOf(o: TrainOptions, items: number): RunSettings {
  const batchSize = Math.min(positiveInt(o.batchSize, 'batchSize', 16), items);
  const perEpoch = Math.floor(items / batchSize);
  if (o.steps !== undefined && o.epochs !== undefined) throw new InputError(where, 'give steps or epochs, not both');
  const total = o.steps !== undefined ? positiveInt(o.steps, 'steps', 1) : positiveInt(o.epochs, 'epochs', 200) * perEpoch;
  const mode = o.mode ?? 'full';
  if (!TRAIN_MODES.includes(mode)) throw new InputError(`${where}: mode`, `must be one of ${TRAIN_MODES.join(', ')}`);
  const schedule = { base: o.lr ?? 1e-3, final: o.finalLr ?? 1e-4, total, warmup: o.warmupSteps ?? Math.min(100, total) };
  validateSchedule(schedule, where);
  const seed = o.seed ?? 1;
  if (!Number.isSafeInteger(seed)) throw new InputError(`${where}: seed`, `must be an integer, got ${seed}`);
  if (o.tokenLr !== undefined && !(o.tokenLr > 0)) throw new InputError(`${where}: tokenLr`, `must be a positive number, got ${o.tokenLr}`);
  const tokenLrScale = o.tokenLr !== undefined && schedule.base > 0 ? o.tokenLr / schedule.base : undefined;
  return { mode, schedule, batchSize, seed, shuffle: o.shuffle ?? true, items, ...(tokenLrScale !== undefined ? { tokenLrScale } : {}) };
}

/** One batch's loss terms and gradients (`h.trained` order) computed in this thread. Caller disposes the gradients. */
async function stepHere(h: TrainableHead, cache: FeatureCache, indices: number[], microBatch: number, signal?: AbortSignal): Promise<{ grads: tf.Tensor[]; terms: LossTerms<number> }> {
  const micro: tf.Tensor3D[][] = [];
  for (let s = 0; s < indices.length; s += microBatch) micro.push(cache.batch(indices.slice(s, s + microBatch)));
  let r: Awaited<ReturnType<typeof lossAndGradients>>;
  try {
    r = await lossAndGradients(h, micro, undefined, signal);
  } finally {
    tf.dispose(micro.flat());
  }
  const { grads, terms } = r;
  const [loss, softMining, coherence] = await Promise.all([terms.loss, terms.softMining, terms.coherence].map(async (t) => (await t.data())[0]));
  tf.dispose([terms.loss, terms.softMining, terms.coherence]);
  return { grads, terms: { loss, softMining, coherence } };
}

/** The same from gradient threads; the sum comes back as host arrays. */
async function stepThreads(h: TrainableHead, pool: ParallelGradients, cache: FeatureCache, indices: number[]): Promise<{ grads: tf.Tensor[]; terms: LossTerms<number> }> {
  const params = await Promise.all(h.trained.map((p) => p.tensor.data() as Promise<Float32Array>));
  const { grads, terms } = await pool.step(params, (ix) => cache.arrays(ix), indices);
  return { grads: grads.map((g, i) => tf.tensor(g, h.trained[i].tensor.shape)), terms };
}

/**
 * Trains (or fine-tunes) the INP-Former head on frozen-encoder features with the official recipe: L_sm + 0.2·L_c,
 * global-norm clipping at 0.1, StableAdamW, warm-up + cosine per step. Runs the same in Node and the browser.
 */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const cache = new FeatureCache(o.resume?.config ?? o.config);
  await fillCache(o, cache, started);
  const run = o.resume ? o.resume.run : settingsOf(o, cache.size);
  const config = o.resume?.config ?? o.config;
  if (run.items !== cache.size) throw new InputError(`${where}: data`, `gives ${cache.size} training items; the resumed run had ${run.items}`);
  const microBatch = Math.min(positiveInt(o.microBatch, 'microBatch', run.batchSize), run.batchSize);
  const perEpoch = Math.floor(run.items / run.batchSize);

  const h = createTrainableHead(o.resume?.head ?? o.init, cache.headConfig, run.mode);
  const opt = o.resume ? restoreOptimizer(h, o.resume) : createOptimizerState(h);
  let cancelled = false;
  try {
    const pool = o.threads?.length
      ? await ParallelGradients.start(o.threads, { config: cache.headConfig, mode: run.mode, head: o.resume?.head ?? o.init, microBatch })
      : undefined;
    const trainStart = performance.now();
    const firstStep = opt.step;
    while (opt.step < run.schedule.total) {
      // Reads on wasm/cpu resolve without yielding, so give the event loop a turn: a worker's cancel message or
      // the CLI's SIGINT can only abort the signal between steps if something lets them run.
      await new Promise((r) => setTimeout(r, 0));
      if (o.signal?.aborted) { cancelled = true; break; }
      const step = opt.step;
      const epoch = Math.floor(step / perEpoch);
      const pos = (step % perEpoch) * run.batchSize;
      const indices = epochOrder(run.items, run.seed, epoch, run.shuffle).slice(pos, pos + run.batchSize);
      const lr = warmCosineLr(step, run.schedule);
      let stepped: Awaited<ReturnType<typeof stepHere>>;
      try {
        stepped = pool ? await stepThreads(h, pool, cache, indices) : await stepHere(h, cache, indices, microBatch, o.signal);
      } catch (e) {
        // Cancelled between micro-batches: the step is not taken, the head stays as the last step left it.
        if (o.signal?.aborted) { cancelled = true; break; }
        throw e;
      }
      const { grads, terms } = stepped;
      const norm = applyGradients(h, opt, grads, lr, { tokenLrScale: run.tokenLrScale });
      const gradNorm = (await norm.data())[0];
      norm.dispose();
      const { loss, softMining, coherence } = terms;
      if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${step + 1}: loss is ${loss}`);
      const elapsed = (performance.now() - trainStart) / 1000;
      const done = opt.step - firstStep;
      o.onProgress?.({
        stage: 'train', step: opt.step, steps: run.schedule.total, epoch, loss, softMining, coherence, lr, gradNorm,
        imagesPerSecond: (done * run.batchSize) / elapsed, elapsedSeconds: (performance.now() - started) / 1000,
        etaSeconds: (elapsed / done) * (run.schedule.total - opt.step),
      });
    }
    const state = await captureState(h, opt, config, run);
    return { head: state.head, state, cancelled };
  } finally {
    disposeOptimizerState(opt);
    disposeTrainableHead(h);
  }
}
