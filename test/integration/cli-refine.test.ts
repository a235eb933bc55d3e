import { mkdirSync, mkdtempSync, readFileSync, readdirSync, existsSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSampleSet } from '../../src/samples/surfaces.ts';
import { cli, writeMvtecLayout } from '../helpers/cli.ts';

// INP-Former++ residual refinement from the CLI, on the offline encoder (nsfwjs MobileNetV2) and procedural surfaces.
describe('inp-former refine', () => {
  let root: string;
  let data: string;
  let base: string;
  let refined: string;
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'inp-refine-'));
    data = path.join(root, 'metal');
    const all = makeSampleSet('brushed-metal', { normals: 14, perDefect: 4, size: 96, defects: ['scratch', 'hole'] });
    const normals = all.filter((s) => !s.defect);
    writeMvtecLayout(data, normals.slice(0, 10), [...normals.slice(10), ...all.filter((s) => s.defect)]);
    base = path.join(root, 'knn');
    expect((await cli('fit-knn', '-e', 'nsfwjs-mobilenetv2', '-d', path.join(data, 'train', 'good'), '-o', base, '--size', '96', '--coreset', '0.5')).code).toBe(0);
    refined = path.join(root, 'refined');
    const r = await cli('refine', '-m', base, '-d', path.join(data, 'train', 'good'), '-o', refined, '--steps', '12', '--keep-worse');
    expect(r.err).toMatch(/refine: pixel AP [\d.]+ % raw → [\d.]+ % refined; raw: pixel AUROC .* on 2 normals \+ 2 synthetic defects/);
    expect(r.code).toBe(0);
  });

  it('writes a model folder: the detector\'s weights byte for byte (the head never changes them), the head beside them', () => {
    const m = JSON.parse(readFileSync(path.join(refined, 'manifest.json'), 'utf8'));
    expect(m.kind).toBe('knn');
    expect(m.refine).toMatchObject({ inputDim: 24 + 32 + 64 + 1, widths: [48, 24, 16], training: { normals: 8, masks: 0, steps: 12, seed: 0 } });
    expect(m.refine.rawScale).toBeGreaterThan(0);
    expect(m.refine.validation.what).toBe('pixel AP on 2 held-out normals + 2 synthetic defects');
    expect(readFileSync(path.join(refined, 'weights.safetensors')).equals(readFileSync(path.join(base, 'weights.safetensors')))).toBe(true);
    expect(Object.keys(m.files).sort()).toEqual(['refine.safetensors', 'weights.safetensors']);
  });

  it('predict uses the refined map; --no-refine gives the detector\'s own map, the same as the unrefined folder\'s', async () => {
    const images = path.join(data, 'test', 'hole');
    const outs = { refined: path.join(root, 'p-refined'), raw: path.join(root, 'p-raw'), base: path.join(root, 'p-base') };
    expect((await cli('predict', '-m', refined, images, '-o', outs.refined, '--save-maps')).code).toBe(0);
    expect((await cli('predict', '-m', refined, '--no-refine', images, '-o', outs.raw, '--save-maps', '--backend', 'wasm')).code).toBe(0);
    expect((await cli('predict', '-m', base, images, '-o', outs.base, '--save-maps', '--backend', 'wasm')).code).toBe(0);
    const map = (dir: string) => readFileSync(path.join(dir, 'maps', readdirSync(path.join(dir, 'maps'))[0]));
    expect(map(outs.raw).equals(map(outs.base))).toBe(true);
    expect(map(outs.refined).equals(map(outs.base))).toBe(false);
    const scores = JSON.parse(readFileSync(path.join(outs.refined, 'scores.json'), 'utf8'));
    expect(Object.values(scores).every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true);
  });

  it('eval says the map is the refined one', async () => {
    const r = await cli('eval', '-m', refined, '-d', data);
    expect(r.code).toBe(0);
    // onnxruntime-node where it loads (the kNN's export covers the head), else tfjs.
    expect(r.out).toMatch(/ms per image \((onnxruntime-node|tfjs wasm), refined map\)/);
  });

  it('learns from accepted masks (a folder of <name>_mask.png beside --images), updating the model\'s own head; names a mask without its image', async () => {
    const out = path.join(root, 'refined-masks');
    const r = await cli('refine', '-m', refined, '-d', path.join(data, 'train', 'good'), '-o', out, '--steps', '8', '--keep-worse',
      '--masks', path.join(data, 'ground_truth', 'hole'), '--images', path.join(data, 'test', 'hole'));
    expect(r.code).toBe(0);
    expect(r.err).toContain('updated the model\'s head (20 steps in all)');
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(m.refine.training).toMatchObject({ masks: 3, steps: 20 });
    const first = JSON.parse(readFileSync(path.join(refined, 'manifest.json'), 'utf8'));
    expect(m.refine.rawScale).toBe(first.refine.rawScale);
    expect(m.refine.validation.what).toBe('pixel AP on 2 held-out normals + 1 accepted defects');
    const lonely = path.join(root, 'lonely');
    mkdirSync(lonely);
    copyFileSync(path.join(data, 'ground_truth', 'hole', readdirSync(path.join(data, 'ground_truth', 'hole'))[0]), path.join(lonely, 'x_mask.png'));
    const bad = await cli('refine', '-m', base, '-d', path.join(data, 'train', 'good'), '-o', path.join(root, 'never'), '--masks', lonely);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/x_mask\.png.*has no image x\.png/);
    expect(existsSync(path.join(root, 'never'))).toBe(false);
  });
});
