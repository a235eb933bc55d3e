import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FINETUNE_MODE } from '../../src/train/recipe.ts';
import { readSafetensors } from '../../src/checkpoint/safetensors.ts';
import { makeSampleSet } from '../../src/samples/surfaces.ts';
import { cli, writeMvtecLayout } from '../helpers/cli.ts';

// INP-Former over a CNN encoder (nsfwjs's MobileNetV2 from node_modules): trains and evaluates on a fresh clone.
describe('inp-former train -e nsfwjs-mobilenetv2: an INP-Former head over a CNN token encoder', () => {
  let root: string;
  let data: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'inp-train-cnn-'));
    data = path.join(root, 'weave');
    const all = makeSampleSet('fabric', { normals: 10, perDefect: 2, size: 96, defects: ['hole', 'stain'] });
    const normals = all.filter((s) => !s.defect);
    writeMvtecLayout(data, normals.slice(0, 6), [...normals.slice(6), ...all.filter((s) => s.defect)]);
  });

  it('trains, saves a model folder without the package weights, evaluates, and fine-tunes', async () => {
    const model = path.join(root, 'model');
    const cache = path.join(root, 'features');
    const r = await cli('train', '-e', 'nsfwjs-mobilenetv2', '-d', path.join(data, 'train', 'good'), '-o', model, '--steps', '8', '--batch', '3', '--resize', '96', '--feature-cache', cache);
    expect(r.code).toBe(0);
    expect(readdirSync(cache).filter((f) => f.endsWith('.feat'))).toHaveLength(6);
    const m = JSON.parse(readFileSync(path.join(model, 'manifest.json'), 'utf8'));
    expect(m.config).toMatchObject({
      encoder: { kind: 'nsfwjs-mobilenetv2', layers: ['block_2', 'block_5', 'block_9'], grid: 12 },
      embedDim: 120, numHeads: 15, inpCount: 12, targetLayers: [0], fuseEncoder: [[0]], decoderDepth: 4,
    });
    expect(m.preprocess).toMatchObject({ resize: 96, crop: 96, mean: [0, 0, 0], std: [1, 1, 1] });
    // Head only: the MobileNetV2 weights stay in node_modules.
    const keys = [...readSafetensors(new Uint8Array(readFileSync(path.join(model, 'weights.safetensors'))), 'w').tensors.keys()];
    expect(keys).toContain('prototype_token');
    expect(keys.filter((k) => k.startsWith('encoder.'))).toEqual([]);

    const out = path.join(root, 'results.json');
    const e = await cli('eval', '-m', model, '-d', data, '-o', out);
    expect(e.code).toBe(0);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.image_auroc).toBeGreaterThanOrEqual(0);
    expect(j.pixel_auroc).toBeGreaterThan(0.5);
    expect(j.map).toBe('reconstruction');
    const zs = await cli('eval', '-m', model, '-d', data, '-o', out, '--zero-shot');
    expect(zs.code).toBe(0);
    const z = JSON.parse(readFileSync(out, 'utf8'));
    expect(z.map).toBe('zero-shot');
    expect(z.pixel_auroc).not.toBe(j.pixel_auroc);

    const tuned = path.join(root, 'tuned');
    const f = await cli('finetune', '-m', model, '-d', path.join(data, 'train', 'good'), '-o', tuned, '--steps', '2', '--batch', '2', '--feature-cache', cache);
    expect(f.code).toBe(0);
    expect(readdirSync(cache).filter((f) => f.endsWith('.feat'))).toHaveLength(6); // same encoder and images: every image a hit
    const tunedManifest = JSON.parse(readFileSync(path.join(tuned, 'manifest.json'), 'utf8'));
    expect(tunedManifest.config.encoder.kind).toBe('nsfwjs-mobilenetv2');
    expect(tunedManifest.source.format).toBe(`finetune (${DEFAULT_FINETUNE_MODE}, 2 steps)`);

    // Each mode trains its own tensors, and its learning rate moves them (INP tokens start N(0, 1)).
    const head = (dir: string) => readSafetensors(new Uint8Array(readFileSync(path.join(dir, 'weights.safetensors'))), dir).tensors;
    const before = head(model);
    const change = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.reduce((s, v) => s + v * v, 0));
    for (const mode of ['tokens', 'tokens+extractor', 'full'] as const) {
      const dir = path.join(root, `tuned-${mode}`);
      expect((await cli('finetune', '-m', model, '-d', path.join(data, 'train', 'good'), '-o', dir, '--mode', mode, '--steps', '2', '--batch', '2', '--feature-cache', cache)).code).toBe(0);
      const after = head(dir);
      const moved = (k: string) => change(after.get(k)!.data as Float32Array, before.get(k)!.data as Float32Array);
      expect(moved('prototype_token')).toBeGreaterThan(0.02);
      expect(moved('aggregation.0.attn.q.weight') > 0).toBe(mode !== 'tokens');
      expect(moved('decoder.0.mlp.fc1.weight') > 0).toBe(mode === 'full');
    }
    const bad = await cli('finetune', '-m', model, '-d', path.join(data, 'train', 'good'), '-o', path.join(root, 'nope'), '--mode', 'decoder');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--mode: must be one of tokens, tokens\+extractor, full, got "decoder"/);
    expect((await cli('finetune', '-m', model, '-d', path.join(data, 'train', 'good'), '-o', path.join(root, 'nope'), '--extractor', '--mode', 'full')).code).toBe(2);
  });

  it('names the encoder spec that cannot be used', async () => {
    const r = await cli('train', '-e', 'nsfwjs-mobilenetv2:block_99', '-d', path.join(data, 'train', 'good'), '-o', path.join(root, 'x'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/encoder "nsfwjs-mobilenetv2:block_99": encoder\.layers: must be a non-empty list among/);
  });
});
