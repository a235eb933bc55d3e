import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { nsfwjsTensors } from '../../../src/encoder/nsfwjs-weights.ts';
import { createModelService, type ModelService } from '../../../src/pipeline/model-service.ts';
import type { FitResult, InitResult, MapResult, ModelInfo, TrainResult, WorkerMemory, WorkerRequest } from '../../../src/pipeline/model-protocol.ts';
import { progressCounter, progressLine } from '../../../src/pipeline/progress.ts';
import { readNsfwjsBundle } from '../../../src/platform/node/nsfwjs.ts';
import type { Progress } from '../../../src/types.ts';

/**
 * The workspace's model service (what the browser's worker runs), driven in Node through its request protocol on
 * tfjs wasm with the installed nsfwjs weights: the same code path as the page, without a browser.
 */
const SIZE = 64;
const sample = (surface: 'fabric', defect: 'hole' | null, seed: number) => ({ kind: 'sample' as const, surface, defect, seed, size: 96 });

let service: ModelService;
const ask = async <T>(req: WorkerRequest, signal = new AbortController().signal, progress: Progress[] = []): Promise<T> =>
  (await service.handle(req, signal, (p) => progress.push(p))).value as T;

beforeAll(async () => {
  let fetched = 0;
  service = createModelService({ nsfwjsWeights: async () => { fetched++; return nsfwjsTensors(await readNsfwjsBundle(), 'nsfwjs'); } });
  const init = await ask<InitResult>({ type: 'init', backends: ['wasm', 'cpu'], inputSize: SIZE });
  expect(init.backend).toBe('wasm');
  expect(init.info.kind).toBe('none');
  for (let i = 0; i < 6; i++) await ask({ type: 'decode', id: `n${i}`, name: `normal ${i}`, source: sample('fabric', null, i) });
  await ask({ type: 'decode', id: 'd0', name: 'hole', source: sample('fabric', 'hole', 100) });
  expect(fetched).toBe(0);
}, 120_000);

describe('model service (the worker protocol)', () => {
  it('refuses to predict before a model exists, and an unknown image', async () => {
    await expect(ask({ type: 'predict', id: 'n0' })).rejects.toThrow(/no model yet/);
    await expect(ask({ type: 'predict', id: 'nope' })).rejects.toThrow(/not registered/);
  });

  it('fits the kNN from normals with progress, maps a defect above the normals, and leaks no tensor', async () => {
    const progress: Progress[] = [];
    const r = await ask<FitResult>({ type: 'fit', normals: ['n0', 'n1', 'n2', 'n3'] }, undefined, progress);
    expect(r.info.kind).toBe('knn');
    expect(r.normals).toHaveLength(4);
    const lines = progress.map(progressLine);
    expect(lines.every((l) => l.label === 'fit' && l.total === 12)).toBe(true);
    expect(lines.at(-1)!.done).toBe(12);
    const before = tf.memory().numTensors;
    const normal = await ask<MapResult>({ type: 'predict', id: 'n5' });
    const defect = await ask<MapResult>({ type: 'predict', id: 'd0' });
    expect(defect.map.data.length).toBe(defect.map.width * defect.map.height);
    expect(defect.score).toBeGreaterThan(normal.score);
    expect(tf.memory().numTensors).toBe(before);
    const m = await ask<WorkerMemory>({ type: 'memory' });
    expect(m.onnxSessions).toBe(0);
  }, 120_000);

  it('a cancelled fit stops with AbortError and keeps the model in use', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(ask({ type: 'fit', normals: ['n0', 'n1'] }, ctl.signal)).rejects.toThrow();
    const p = await ask<MapResult>({ type: 'predict', id: 'd0' });
    expect(p.map.width).toBeGreaterThan(0);
  }, 60_000);

  it('trains a head with the one Progress type, validates it against the kNN, and returns a loadable model folder', async () => {
    const progress: Progress[] = [];
    const r = await ask<TrainResult>({ type: 'train', job: 'train', normals: ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'], steps: 2 }, undefined, progress);
    const stages = new Set(progress.map((p) => p.stage));
    expect([...stages]).toEqual(expect.arrayContaining(['encode', 'train', 'validate']));
    expect(progress.filter((p) => p.stage === 'train').map((p) => progressLine(p).total)).toContain(2);
    expect(r.selection.keep === 'current' || r.selection.keep === 'candidate').toBe(true);
    expect(r.model.files.map((f) => f.name)).toContain('manifest.json');
    // Whichever was kept, the saved folder loads back as an INP-Former.
    const info = await ask<ModelInfo>({ type: 'load-model', files: r.model.files, card: r.model.card });
    expect(info.kind).toBe('inp-former');
    const back = await ask<ModelInfo>({ type: 'drop-model' });
    expect(back.kind).toBe('none');
  }, 300_000);
});

describe('progress', () => {
  it('counts units with an ETA from the mean time per unit, and turns every stage into one line', () => {
    const got: Progress[] = [];
    let t = 0;
    const tick = progressCounter('encode', 4, (p) => got.push(p), () => t);
    t = 2000; tick('a');
    t = 4000; tick();
    expect(got.map((p) => progressLine(p))).toEqual([
      { label: 'encode', done: 1, total: 4, etaSeconds: 6, detail: 'a' },
      { label: 'encode', done: 2, total: 4, etaSeconds: 4 },
    ]);
    expect(progressLine({ stage: 'download', file: 'w.safetensors', loaded: 5e6, total: 1e7 })).toEqual({ label: 'download', done: 5e6, total: 1e7, unit: 'bytes', detail: 'w.safetensors' });
    const step = { stage: 'train', step: 3, steps: 20, epoch: 0, loss: 0.12345, softMining: 0, coherence: 0, lr: 1e-3, gradNorm: 1, imagesPerSecond: 4, elapsedSeconds: 9, etaSeconds: 51 } as const;
    expect(progressLine({ ...step, job: 'finetune' })).toEqual({ label: 'fine-tune', done: 3, total: 20, etaSeconds: 51, detail: 'loss 0.1235' });
  });
});
