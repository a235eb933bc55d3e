import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  calibrateFromNormals, createAnomalyDetector, fitKnn, InputError, openModel, openModelUrl, refineModel, saveModel, trainModel, type Progress, type RgbImage, type TensorMap,
} from '../../../src/index.ts';
import { nsfwjsWeights, useNodeBackend } from '../../../src/node.ts';
import { makeSample } from '../../../src/samples/surfaces.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serveFolder } from '../../helpers/static-server.ts';

/** The public API end to end on procedural samples: plain pixels in, typed arrays out, no tensor left behind. */
let weights: TensorMap;
const normals: RgbImage[] = Array.from({ length: 8 }, (_, i) => makeSample('fabric', null, i, 96).image);
const defect = makeSample('fabric', 'hole', 40, 96).image;

beforeAll(async () => {
  await useNodeBackend('wasm');
  weights = await nsfwjsWeights();
}, 60_000);

describe('public API', () => {
  it('fits the kNN, round-trips it as a model folder, detects and proposes with a sensitivity knob', async () => {
    const events: Progress[] = [];
    const before = tf.memory().numTensors;
    const model = await fitKnn(normals.slice(0, 6), { encoderWeights: weights, size: 64, onProgress: (p) => events.push(p) });
    expect(events.map((e) => e.stage)).toEqual(Array(6).fill('fit'));
    const files = await saveModel(model);
    expect([...files.keys()].sort()).toEqual(['manifest.json', 'weights.safetensors']);
    const reopened = await openModel({ files, name: 'saved' });
    const d = await createAnomalyDetector(reopened, { encoderWeights: weights });
    expect([d.kind, d.runtime]).toEqual(['knn', 'tfjs wasm']);
    const held = await Promise.all(normals.slice(6).map((im) => d.detect(im)));
    const calibration = calibrateFromNormals(held.map((h) => h.map), held.map((h) => h.score));
    const bad = await d.detect(defect);
    expect(bad.map.data).toBeInstanceOf(Float32Array);
    expect([bad.map.width, bad.map.height]).toEqual([96, 96]);
    expect(bad.score).toBeGreaterThan(Math.max(...held.map((h) => h.score)));
    const at = (sensitivity: number) => d.propose(defect, { calibration, sensitivity });
    const [low, mid, high] = await Promise.all([at(0.2), at(0.5), at(0.9)]);
    const area = (p: typeof mid) => p.mask.data.reduce((a, b) => a + b, 0);
    expect(area(mid)).toBeGreaterThan(0);
    expect(area(low)).toBeLessThanOrEqual(area(mid));
    expect(area(high)).toBeGreaterThanOrEqual(area(mid));
    await expect(d.propose(defect, { calibration, sensitivity: 2 })).rejects.toThrow(/sensitivity.*between 0 and 1/);
    await expect(d.propose(defect)).rejects.toThrow(InputError);
    d.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('refines a model from normals and an accepted defect, with progress; the refined model saves and opens like any other', async () => {
    const before = tf.memory().numTensors;
    const model = await fitKnn(normals.slice(0, 6), { encoderWeights: weights, size: 64 });
    const sample = makeSample('fabric', 'hole', 41, 96);
    const events: Progress[] = [];
    const r = await refineModel(model, normals, {
      encoderWeights: weights, steps: 4, defects: [{ image: sample.image, mask: { width: 96, height: 96, data: sample.mask } }], onProgress: (p) => events.push(p),
    });
    expect(events.filter((e) => e.stage === 'refine').map((e) => e.stage === 'refine' && e.done)).toEqual([1, 2, 3, 4]);
    expect(events.some((e) => e.stage === 'validate')).toBe(true);
    expect(r.selection.current.normals).toBe(2);
    expect(['current', 'candidate']).toContain(r.selection.keep);
    expect(r.summary).toMatch(/^pixel AP [\d.]+ % raw → [\d.]+ % refined/);
    const files = await saveModel(r.model);
    expect([...files.keys()].sort()).toEqual(['manifest.json', 'refine.safetensors', 'weights.safetensors']);
    const d = await createAnomalyDetector(await openModel({ files, name: 'refined' }), { encoderWeights: weights });
    expect((await d.detect(defect)).map.data.every(Number.isFinite)).toBe(true);
    d.dispose();
    await expect(refineModel(model, normals.slice(0, 3), { encoderWeights: weights })).rejects.toThrow(/3 normal image\(s\): training needs at least 4/);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('trains an INP-Former head on the nsfwjs encoder and fine-tunes it, with one Progress type', async () => {
    const events: Progress[] = [];
    const encoder = { kind: 'nsfwjs-mobilenetv2' as const, layers: ['block_2', 'block_5', 'block_9'], localAverage: true };
    const trained = await trainModel(normals.slice(0, 4), {
      from: { encoder, encoderWeights: weights, size: 64 }, settings: { steps: 2, batchSize: 2 }, onProgress: (p) => events.push(p),
    });
    expect(trained.content.kind).toBe('inp-former');
    expect(events.filter((e) => e.stage === 'train').map((e) => e.stage === 'train' && e.step)).toEqual([1, 2]);
    const tuned = await trainModel(normals.slice(4, 6), { from: trained, job: 'finetune', encoderWeights: weights, settings: { steps: 1 } });
    const d = await createAnomalyDetector(tuned, { encoderWeights: weights });
    const r = await d.detect(defect);
    expect(Number.isFinite(r.score)).toBe(true);
    d.dispose();
    await expect(trainModel([], { from: trained })).rejects.toThrow(/at least one normal/);
  }, 180_000);

  it('opens a model folder from a URL with download progress, and names the URL when it fails', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'inp-url-'));
    const site = await serveFolder(dir);
    try {
      const files = await saveModel(await fitKnn(normals.slice(0, 2), { encoderWeights: weights, size: 32 }));
      for (const [name, bytes] of files) writeFileSync(path.join(dir, name), bytes);
      const events: Progress[] = [];
      const m = await openModelUrl(`${site.url}/manifest.json`, { onProgress: (p) => events.push(p) });
      expect(m.content.kind).toBe('knn');
      const last = events.at(-1)!;
      expect(last.stage === 'download' && last.loaded === last.total && last.total === files.get('weights.safetensors')!.byteLength).toBe(true);
      await expect(openModelUrl(`${site.url}/missing/manifest.json`)).rejects.toThrow(/missing\/manifest.json.*HTTP 404/);
      await expect(openModelUrl('not a url')).rejects.toThrow(/not an absolute URL/);
    } finally {
      await site.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
