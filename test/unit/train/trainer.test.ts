import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectedShapes } from '../../../src/checkpoint/load.ts';
import { readSafetensors } from '../../../src/checkpoint/safetensors.ts';
import { InputError } from '../../../src/errors.ts';
import { initHead, randomEncoder } from '../../../src/inp-former/init.ts';
import { createInpFormer, type InpFormer } from '../../../src/inp-former/predict.ts';
import { nodeFeatureStore } from '../../../src/platform/node/feature-store.ts';
import { startGradientThreads } from '../../../src/platform/node/gradient-threads.ts';
import { useBackend } from '../../../src/runtime/backend.ts';
import { exportOfficialSafetensors } from '../../../src/train/export.ts';
import { FeatureCache } from '../../../src/train/features.ts';
import { GradientShard } from '../../../src/train/parallel.ts';
import { loadTrainState, saveTrainState } from '../../../src/train/state.ts';
import { createTrainableHead, disposeTrainableHead, lossAndGradients } from '../../../src/train/step.ts';
import { epochOrder, train, type TrainOptions } from '../../../src/train/trainer.ts';
import type { Progress } from '../../../src/types.ts';
import type { InpFormerConfig, TensorMap } from '../../../src/types.ts';
import { relMaxDiff } from '../../helpers/shared.ts';

/**
 * A tiny ViT (64-d, 4 blocks) on 28×28 inputs (2×2 tokens), fast on cpu, with the official 6 INPs. (With 1 head and
 * 3 INPs a token's ReLU attention can be all zero at init; the next block's F.normalize of a zero query then
 * gives NaN gradients in tfjs — see the report on runtime/ops.ts l2Normalize.)
 */
const CFG: InpFormerConfig = {
  architecture: 'inp-former',
  encoder: { kind: 'dinov2', embedDim: 64, depth: 4, numHeads: 1, patchSize: 14, registerTokens: 1, posGridSize: 3, mlpRatio: 2, lnEps: 1e-6, interpolateOffset: 0.1 },
  embedDim: 64, numHeads: 2, inpCount: 6, decoderDepth: 2, targetLayers: [0, 1, 2, 3],
  fuseEncoder: [[0, 1], [2, 3]], fuseDecoder: [[0], [1]], mlpRatio: 2, lnEps: 1e-8,
};
const ENCODER = randomEncoder(CFG, 3);
const INIT = initHead(CFG, 4);
const IMAGES = Array.from({ length: 6 }, (_, i) => tf.randomNormal([1, 3, 28, 28], 0, 1, 'float32', 10 + i) as tf.Tensor4D);

let model: InpFormer;
const base = (o: Partial<TrainOptions> = {}): TrainOptions => ({
  encoder: model, config: CFG, init: INIT, data: IMAGES, batchSize: 4, steps: 4, warmupSteps: 1, lr: 1e-3, seed: 5, ...o,
});
const same = (a: TensorMap, b: TensorMap) => [...a].every(([k, t]) => relMaxDiff(t.data as Float32Array, b.get(k)!.data as Float32Array) === 0);

beforeAll(async () => {
  await useBackend('cpu');
  model = createInpFormer(CFG, new Map([...ENCODER, ...INIT]));
});

describe('trainer', () => {
  it('is deterministic for a seed, differs across seeds, and holds no tensor afterwards', async () => {
    const a = await train(base());
    const before = tf.memory().numTensors; // after the encoder cached this grid's positional table
    const b = await train(base());
    const c = await train(base({ seed: 6 }));
    expect(tf.memory().numTensors).toBe(before);
    expect(same(a.head, b.head)).toBe(true);
    expect(same(a.head, c.head)).toBe(false);
    expect(a.state.step).toBe(4);
    expect(a.cancelled).toBe(false);
  });

  it('reports progress: encode, then every step with loss terms, lr, images/s and ETA', async () => {
    const events: Progress[] = [];
    await train(base({ onProgress: (e) => events.push(e) }));
    const enc = events.filter((e): e is Extract<Progress, { done: number }> => e.stage === 'encode');
    const steps = events.filter((e): e is Extract<Progress, { stage: 'train' }> => e.stage === 'train');
    expect(enc.map((e) => e.done)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps.map((e) => e.step)).toEqual([1, 2, 3, 4]);
    // warm-up of 1 step: linspace(0, lr, 1) = [0], then the cosine from the peak.
    expect(steps[0].lr).toBe(0);
    expect(steps[1].lr).toBe(1e-3);
    for (const e of steps) {
      expect(e.loss).toBeCloseTo(e.softMining + 0.2 * e.coherence, 6);
      expect(e.imagesPerSecond).toBeGreaterThan(0);
      expect(e.gradNorm).toBeGreaterThan(0);
    }
    expect(steps[3].etaSeconds).toBe(0);
  });

  it('a cancel arriving during a step stops it between micro-batches, leaving no tensor behind', async () => {
    const cache = new FeatureCache(CFG);
    for (const x of IMAGES) await cache.add(model, x);
    const h = createTrainableHead(INIT, cache.headConfig, 'full');
    const micro = [0, 1, 2, 3].map((i) => cache.batch([i]));
    const before = tf.memory().numTensors;
    const ctrl = new AbortController();
    // The message arrives while the first micro-batch runs (synchronously): it is seen at the next one.
    setTimeout(() => ctrl.abort(), 0);
    await expect(lossAndGradients(h, micro, undefined, ctrl.signal)).rejects.toThrow(/abort/i);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(micro.flat());
    disposeTrainableHead(h);
    // Through the trainer: cancelled, and the step in progress is not taken.
    const steps: number[] = [];
    const ctl = new AbortController();
    const r = await train(base({ microBatch: 1, steps: 3, signal: ctl.signal, onProgress: (e) => { if (e.stage === 'train') { steps.push(e.step); setTimeout(() => ctl.abort(), 0); } } }));
    expect(r.cancelled).toBe(true);
    expect(steps).toEqual([1]);
    expect(r.state.step).toBe(1);
  });

  it('accumulated micro-batches give the full-batch loss and gradients (μ from the whole batch)', async () => {
    const cache = new FeatureCache(CFG);
    for (const x of IMAGES) await cache.add(model, x);
    const h = createTrainableHead(INIT, cache.headConfig, 'full');
    const idx = [4, 1, 3, 0, 5];
    const full = await lossAndGradients(h, [cache.batch(idx)]);
    const acc = await lossAndGradients(h, [cache.batch(idx.slice(0, 2)), cache.batch(idx.slice(2, 3)), cache.batch(idx.slice(3))]);
    expect(Math.abs(acc.terms.loss.arraySync() - full.terms.loss.arraySync())).toBeLessThan(1e-6);
    expect(Math.abs(acc.terms.softMining.arraySync() - full.terms.softMining.arraySync())).toBeLessThan(1e-6);
    for (let i = 0; i < full.grads.length; i++) expect(relMaxDiff(acc.grads[i].dataSync(), full.grads[i].dataSync())).toBeLessThan(1e-5);
    tf.dispose([...full.grads, ...acc.grads, ...Object.values(full.terms), ...Object.values(acc.terms)]);
    disposeTrainableHead(h);

    const losses = async (microBatch: number) => {
      const l: number[] = [];
      await train(base({ microBatch, steps: 2, onProgress: (e) => { if (e.stage === 'train') l.push(e.loss); } }));
      return l;
    };
    const [one, split] = [await losses(4), await losses(1)];
    expect(Math.abs(one[0] - split[0])).toBeLessThan(1e-6);
  });

  it('gradient threads (worker_threads, own tfjs each) give the one-thread run, with or without micro-batches', async () => {
    const run = async (o: Partial<TrainOptions>) => {
      const l: number[] = [];
      const r = await train(base({ ...o, onProgress: (e) => { if (e.stage === 'train') l.push(e.loss); } }));
      return { head: r.head, l };
    };
    const here = await run({});
    const threads = startGradientThreads(2);
    try {
      const before = tf.memory().numTensors;
      for (const microBatch of [4, 1]) {
        const there = await run({ threads: threads.channels, microBatch });
        // Same maths, gradients summed in another order: float rounding only, over 4 steps.
        here.l.forEach((v, i) => expect(Math.abs(there.l[i] - v)).toBeLessThan(1e-5));
        for (const [k, t] of here.head) expect(relMaxDiff(there.head.get(k)!.data as Float32Array, t.data as Float32Array), k).toBeLessThan(1e-4);
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await threads.close();
    }
    // A thread that is gone fails the run with its reason instead of hanging it.
    await expect(train(base({ threads: threads.channels }))).rejects.toThrow(/gradient thread 1 exited/);
  }, 60_000);

  it('a gradient thread holds no tensor between steps beyond its head', async () => {
    const cache = new FeatureCache(CFG);
    for (const x of IMAGES) await cache.add(model, x);
    const shard = new GradientShard();
    await shard.handle({ type: 'init', backend: 'cpu', config: cache.headConfig, mode: 'full', head: INIT, microBatch: 2 });
    const h = createTrainableHead(INIT, cache.headConfig, 'full');
    const params = await Promise.all(h.trained.map((p) => p.tensor.data() as Promise<Float32Array>));
    disposeTrainableHead(h);
    const step = async () => {
      expect((await shard.handle({ type: 'batch', params, shard: cache.arrays([0, 1, 2]), sums: true })).type).toBe('sums');
      expect((await shard.handle({ type: 'grads', mu: [0.5, 0.5], total: 6 })).type).toBe('grads');
    };
    await step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await step();
    expect(tf.memory().numTensors).toBe(before);
    shard.dispose();
  });

  it('stops on abort with a resumable state; resuming from its bytes equals the uninterrupted run', async () => {
    const whole = await train(base());
    const ctl = new AbortController();
    const part = await train(base({ signal: ctl.signal, onProgress: (e) => { if (e.stage === 'train' && e.step === 2) ctl.abort(); } }));
    expect(part.cancelled).toBe(true);
    expect(part.state.step).toBe(2);
    const restored = loadTrainState(saveTrainState(part.state), 'state.safetensors');
    const resumed = await train({ ...base({ seed: 999, batchSize: 2 }), resume: restored });
    expect(resumed.state.step).toBe(4);
    expect(same(resumed.head, whole.head)).toBe(true);
  });

  it('a timer can cancel it between steps (the loop yields to the event loop, as a worker message or SIGINT needs)', async () => {
    const ctl = new AbortController();
    let steps = 0;
    setTimeout(() => ctl.abort(), 0);
    const r = await train(base({ steps: 50, signal: ctl.signal, onProgress: (e) => { if (e.stage === 'train') steps++; } }));
    expect(r.cancelled).toBe(true);
    expect(steps).toBeLessThan(50);
  });

  it('fine-tunes only the INP tokens (or tokens + extractor)', async () => {
    for (const mode of ['tokens', 'tokens+extractor'] as const) {
      const r = await train(base({ mode, steps: 2, warmupSteps: 0 }));
      const changed = [...r.head].filter(([k, t]) => relMaxDiff(t.data as Float32Array, INIT.get(k)!.data as Float32Array) > 0).map(([k]) => k);
      const allowed = (k: string) => k === 'prototype_token' || (mode === 'tokens+extractor' && k.startsWith('aggregation.'));
      expect(changed.filter((k) => !allowed(k))).toEqual([]);
      expect(changed).toContain('prototype_token');
      if (mode === 'tokens+extractor') expect(changed).toContain('aggregation.0.attn.kv.weight');
      expect(r.state.moments.has('exp_avg.prototype_token')).toBe(true);
      expect(r.state.moments.has('exp_avg.bottleneck.0.fc1.weight')).toBe(false);
      expect(r.state.moments.has('exp_avg.aggregation.0.attn.q.weight')).toBe(mode === 'tokens+extractor');
    }
  });

  it('trains on K-shot views (22 per image) from a provider and with epochs', async () => {
    let loaded = 0;
    const events: Progress[] = [];
    const r = await train(base({
      data: { count: 2, load: (i) => { loaded++; return IMAGES[i].clone(); } }, fewShot: true, steps: undefined, epochs: 1, batchSize: 16,
      onProgress: (e) => events.push(e),
    }));
    expect(loaded).toBe(2);
    expect(r.state.run.items).toBe(44);
    expect(r.state.step).toBe(2); // ⌊44 / 16⌋ per epoch, drop_last
  });

  it('reuses features from a folder store: the second run encodes nothing and gives the same head', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'feat-store-'));
    const provider = (load: (i: number) => tf.Tensor4D) => ({ count: 3, load, key: async (i: number) => `img${i}` });
    const store = nodeFeatureStore(dir);
    const a = await train(base({ data: provider((i) => IMAGES[i].clone()), featureStore: store, fewShot: true, steps: 2 }));
    expect(readdirSync(dir).sort()).toEqual(['img0.feat', 'img1.feat', 'img2.feat']);
    const b = await train(base({ data: provider(() => { throw new Error('encoded although stored'); }), featureStore: store, fewShot: true, steps: 2 }));
    expect(b.state.run.items).toBe(66);
    expect(same(a.head, b.head)).toBe(true);
    writeFileSync(path.join(dir, 'img1.feat'), new Uint8Array(30)); // truncated: a miss, encoded again
    let loaded = 0;
    await train(base({ data: provider((i) => { loaded++; return IMAGES[i].clone(); }), featureStore: store, steps: 1 }));
    expect(loaded).toBe(1);
    rmSync(dir, { recursive: true });
  });

  it('rejects bad options and bad states with the field named', async () => {
    await expect(train(base({ batchSize: 0 }))).rejects.toThrow(/batchSize/);
    await expect(train(base({ steps: 2, epochs: 1 }))).rejects.toThrow(/steps or epochs/);
    await expect(train(base({ warmupSteps: 9 }))).rejects.toThrow(/warm-up/);
    const good = (await train(base({ steps: 1 }))).state;
    const bytes = saveTrainState({ ...good, moments: new Map([...good.moments].filter(([k]) => k !== 'exp_avg_sq.decoder.1.mlp.fc2.bias')) });
    expect(() => loadTrainState(bytes, 's.safetensors')).toThrow(InputError);
    expect(() => loadTrainState(bytes, 's.safetensors')).toThrow(/s\.safetensors: exp_avg_sq\.decoder\.1\.mlp\.fc2\.bias/);
    await expect(train({ ...base(), data: IMAGES.slice(0, 5), resume: good })).rejects.toThrow(/resumed run had 6/);
  });

  it('exports every official key in state-dict order, F32, frozen encoder bit-identical', async () => {
    const r = await train(base({ steps: 1 }));
    const bytes = exportOfficialSafetensors(new Map([...ENCODER, ...r.head]), CFG, 'model');
    const back = readSafetensors(bytes).tensors;
    expect([...back.keys()]).toEqual([...expectedShapes(CFG).keys()]);
    for (const [k, t] of ENCODER) expect(Buffer.from((back.get(k)!.data as Float32Array).buffer).equals(Buffer.from((t.data as Float32Array).buffer)), k).toBe(true);
    expect(same(new Map([...r.head]), new Map([...r.head].map(([k]) => [k, back.get(k)!])))).toBe(true);
  });

  it('shuffles per (seed, epoch) and keeps the order without shuffle', () => {
    expect(epochOrder(5, 1, 0, false)).toEqual([0, 1, 2, 3, 4]);
    expect(epochOrder(10, 1, 0, true)).toEqual(epochOrder(10, 1, 0, true));
    expect(epochOrder(10, 1, 0, true)).not.toEqual(epochOrder(10, 1, 1, true));
    expect([...epochOrder(10, 1, 3, true)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
