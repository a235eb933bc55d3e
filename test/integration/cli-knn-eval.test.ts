import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../src/image/encode-png.ts';
import { makeSampleSet } from '../../src/samples/surfaces.ts';
import { cli, writeMvtecLayout } from '../helpers/cli.ts';

// The offline encoder (nsfwjs's MobileNetV2, from node_modules) on procedural surfaces: runs on a fresh clone.
describe('inp-former fit-knn and eval on a generated MVTec-layout dataset', () => {
  let root: string;
  let data: string;
  let model: string;
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'inp-knn-'));
    data = path.join(root, 'metal');
    const all = makeSampleSet('brushed-metal', { normals: 14, perDefect: 3, size: 128, defects: ['scratch', 'hole', 'stain'] });
    const normals = all.filter((s) => !s.defect);
    writeMvtecLayout(data, normals.slice(0, 10), [...normals.slice(10), ...all.filter((s) => s.defect)]);
    model = path.join(root, 'model');
    const r = await cli('fit-knn', '-e', 'nsfwjs-mobilenetv2', '-d', path.join(data, 'train', 'good'), '-o', model, '--size', '128', '--coreset', '0.5');
    expect(r.err).toContain('fit-knn: 10 normal images → memory bank');
    expect(r.code).toBe(0);
  });

  it('writes a kNN model folder whose manifest records the encoder and bank, and no nsfwjs weights', () => {
    const m = JSON.parse(readFileSync(path.join(model, 'manifest.json'), 'utf8'));
    expect(m.kind).toBe('knn');
    expect(m.knn).toMatchObject({ encoder: { kind: 'nsfwjs-mobilenetv2', layers: ['block_2', 'block_5', 'block_9'], localAverage: true, grid: 16 }, dim: 24 + 32 + 64, images: 10, coresetRatio: 0.5 });
    expect(m.knn.bankSize).toBe(Math.round(10 * 16 * 16 * 0.5));
    expect(m.preprocess).toMatchObject({ resize: 128, crop: 128, mapSize: 128, mean: [0, 0, 0], std: [1, 1, 1] });
    // Bank only (1280 × 120 float32) plus the safetensors header: no encoder weights.
    expect(m.files['weights.safetensors'].bytes).toBeLessThan(1280 * 120 * 4 + 1024);
  });

  it('evaluates: table per defect type, JSON with the paper metrics as fractions, and finds the defects', async () => {
    const out = path.join(root, 'results.json');
    const r = await cli('eval', '-m', model, '-d', data, '-o', out);
    expect(r.code).toBe(0);
    expect(r.err).toContain('test/scratch: 3 images, 3 with masks');
    expect(r.out).toMatch(/I-AUROC.*AUPRO/);
    for (const t of ['all', 'hole', 'scratch', 'stain']) expect(r.out).toMatch(new RegExp(`^${t}\\s`, 'm'));
    const j = JSON.parse(readFileSync(out, 'utf8'));
    for (const k of ['image_auroc', 'image_ap', 'image_f1max', 'pixel_auroc', 'pixel_ap', 'pixel_f1max', 'aupro']) {
      expect(j[k]).toBeGreaterThanOrEqual(0);
      expect(j[k]).toBeLessThanOrEqual(1);
    }
    expect(Object.keys(j.per_type).sort()).toEqual(['hole', 'scratch', 'stain']);
    expect(j.scores).toHaveLength(13);
    // Painted defects on brushed metal are easy: a working detector separates them.
    expect(j.image_auroc).toBeGreaterThan(0.9);
    expect(j.pixel_auroc).toBeGreaterThan(0.9);
  });

  it('predicts with the kNN model like any other model', async () => {
    const out = path.join(root, 'pred');
    const r = await cli('predict', '-m', model, path.join(data, 'test', 'hole'), '-o', out, '--save-maps');
    expect(r.code).toBe(0);
    const scores = JSON.parse(readFileSync(path.join(out, 'scores.json'), 'utf8'));
    expect(Object.keys(scores)).toHaveLength(3);
    expect(existsSync(path.join(out, 'maps', 'brushed-metal-hole-1000.npy'))).toBe(true);
    const z = await cli('predict', '-m', model, path.join(data, 'test', 'hole'), '-o', out, '--zero-shot');
    expect(z.code).toBe(1);
    expect(z.err).toMatch(/--zero-shot needs an INP-Former/);
  });

  it('names the path for a folder in neither layout, an empty train folder, an orphan mask and a mask of the wrong size', async () => {
    const bad = (name: string) => { const d = path.join(root, name); rmSync(d, { recursive: true, force: true }); mkdirSync(d, { recursive: true }); return d; };
    const plain = bad('plain');
    writeFileSync(path.join(plain, 'a.png'), readFileSync(path.join(data, 'train', 'good', 'brushed-metal-good-000.png')));
    let r = await cli('eval', '-m', model, '-d', plain);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${plain}: not a dataset folder`);

    const empty = bad('empty');
    mkdirSync(path.join(empty, 'train', 'good'), { recursive: true });
    mkdirSync(path.join(empty, 'test', 'good'), { recursive: true });
    r = await cli('eval', '-m', model, '-d', empty);
    expect(r.err).toContain(`${path.join(empty, 'train', 'good')}: holds no .png/.jpg images`);

    const orphan = bad('orphan');
    writeMvtecLayout(orphan, makeSampleSet('fabric', { normals: 1, perDefect: 0, size: 64 }), makeSampleSet('fabric', { normals: 0, perDefect: 1, size: 64, defects: ['hole'] }));
    writeFileSync(path.join(orphan, 'ground_truth', 'hole', 'ghost_mask.png'), encodePng({ width: 64, height: 64, channels: 1, data: new Uint8Array(64 * 64) }));
    r = await cli('eval', '-m', model, '-d', orphan);
    expect(r.err).toContain(`${path.join(orphan, 'ground_truth', 'hole', 'ghost_mask.png')}: mask has no matching image`);

    const sized = bad('sized');
    const [s] = makeSampleSet('fabric', { normals: 0, perDefect: 1, size: 64, defects: ['hole'] });
    writeMvtecLayout(sized, makeSampleSet('fabric', { normals: 1, perDefect: 0, size: 64 }), [s, ...makeSampleSet('fabric', { normals: 1, perDefect: 0, size: 64, seed: 5 })]);
    const maskFile = path.join(sized, 'ground_truth', 'hole', `${s.name}_mask.png`);
    writeFileSync(maskFile, encodePng({ width: 32, height: 64, channels: 1, data: new Uint8Array(32 * 64) }));
    r = await cli('eval', '-m', model, '-d', sized);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${maskFile}: mask is 32×64, its image`);
  });

  it('refuses an unknown encoder spec with the syntax', async () => {
    const r = await cli('fit-knn', '-e', 'vgg16=x.pth', '-d', path.join(data, 'train', 'good'), '-o', path.join(root, 'x'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/encoder "vgg16=x.pth": expected resnet18=<weights.pth>/);
  });
});
