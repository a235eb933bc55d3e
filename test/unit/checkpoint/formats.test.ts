import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultTargetLayers, inferInpFormerConfig } from '../../../src/checkpoint/infer-config.ts';
import { loadCheckpoint } from '../../../src/checkpoint/load.ts';
import { writeSafetensors } from '../../../src/checkpoint/safetensors.ts';
import { randomEncoder, randomInpFormer } from '../../../src/inp-former/init.ts';
import { buildModelFolder } from '../../../src/model-folder/manifest.ts';
import { readModelFolder, writeModelFolder } from '../../../src/platform/node/model-folder.ts';
import type { InpFormerConfig, TensorMap, VitEncoderConfig } from '../../../src/types.ts';

const CFG: InpFormerConfig = {
  architecture: 'inp-former',
  encoder: { kind: 'dinov2', embedDim: 96, depth: 6, numHeads: 3, patchSize: 14, registerTokens: 0, posGridSize: 5, mlpRatio: 4, lnEps: 1e-6, interpolateOffset: 0.1 },
  embedDim: 96, numHeads: 3, inpCount: 4, decoderDepth: 4, targetLayers: [1, 2, 3, 4],
  fuseEncoder: [[0, 1], [2, 3]], fuseDecoder: [[0, 1], [2, 3]], mlpRatio: 4, lnEps: 1e-8,
};

/** Our encoder tensors in Hugging Face's Dinov2Model naming (q, k, v split). */
function toHf(enc: TensorMap): TensorMap {
  const hf: TensorMap = new Map();
  for (const [k0, v] of enc) {
    const k = k0.slice('encoder.'.length);
    let m: RegExpExecArray | null;
    if ((m = /^blocks\.(\d+)\.attn\.qkv\.(weight|bias)$/.exec(k))) {
      const third = v.data.length / 3;
      ['query', 'key', 'value'].forEach((n, i) => hf.set(`encoder.layer.${m![1]}.attention.attention.${n}.${m![2]}`,
        { dtype: 'F32', shape: [v.shape[0] / 3, ...v.shape.slice(1)], data: (v.data as Float32Array).slice(i * third, (i + 1) * third) }));
      continue;
    }
    const name = k
      .replace(/^cls_token$/, 'embeddings.cls_token').replace(/^mask_token$/, 'embeddings.mask_token')
      .replace(/^pos_embed$/, 'embeddings.position_embeddings').replace(/^register_tokens$/, 'embeddings.register_tokens')
      .replace(/^patch_embed\.proj\./, 'embeddings.patch_embeddings.projection.')
      .replace(/^blocks\.(\d+)\.attn\.proj\./, 'encoder.layer.$1.attention.output.dense.')
      .replace(/^blocks\.(\d+)\.ls([12])\.gamma$/, 'encoder.layer.$1.layer_scale$2.lambda1')
      .replace(/^blocks\.(\d+)\./, 'encoder.layer.$1.').replace(/^norm\./, 'layernorm.');
    hf.set(name, v);
  }
  return hf;
}

describe('checkpoint formats and config inference', () => {
  it('infers any width, depth, head count and register count from shapes', () => {
    const t = randomInpFormer(CFG, 1);
    // Encoder heads follow DINOv2's 64-channel heads unless overridden (96 channels is no DINOv2 size).
    expect(inferInpFormerConfig(t, 'm', { targetLayers: [1, 2, 3, 4], encoder: { numHeads: 3 } })).toEqual(CFG);
    expect(inferInpFormerConfig(t, 'm').targetLayers).toEqual([1, 2, 3, 4, 5]);
    expect(defaultTargetLayers(12)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(defaultTargetLayers(24)).toEqual([4, 6, 8, 10, 12, 14, 16, 18]);
  });

  it('maps official DINOv2 and Hugging Face DINOv2 checkpoints to the same encoder', () => {
    const enc = randomEncoder({ ...CFG, encoder: { ...(CFG.encoder as VitEncoderConfig), registerTokens: 4 } }, 3);
    const official = new Map([...enc].map(([k, v]) => [k.slice('encoder.'.length), v]));
    const a = loadCheckpoint(writeSafetensors(official), 'dinov2_vits14_reg4_pretrain.pth');
    const b = loadCheckpoint(writeSafetensors(new Map([...toHf(enc)].map(([k, v]) => [`dinov2.${k}`, v]))), 'hf.safetensors');
    expect(a.kind).toBe('encoder');
    expect(b.format).toBe('hf-dinov2');
    if (a.kind !== 'encoder' || b.kind !== 'encoder') throw new Error('unreachable');
    expect(a.encoder).toEqual(b.encoder);
    expect(a.encoder.registerTokens).toBe(4);
    for (const [k, v] of a.tensors) expect(b.tensors.get(k)!.data, k).toEqual(v.data);
  });

  it('rejects files that are none of the known layouts', () => {
    const t: TensorMap = new Map([['fc.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) }]]);
    expect(() => loadCheckpoint(writeSafetensors(t), 'x.safetensors')).toThrow(/x\.safetensors: not an INP-Former, DINOv2/);
  });
});

describe('model folder', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'inp-folder-'));
  const t = randomInpFormer(CFG, 5);

  it('round-trips F32 exactly and F16 to half precision', async () => {
    const out = path.join(dir, 'f32');
    await writeModelFolder(out, await buildModelFolder({ kind: 'inp-former', config: CFG, tensors: t }, { name: 'x' }));
    const back = await readModelFolder(out);
    expect(back.manifest.config).toEqual(CFG);
    for (const [k, v] of t) expect(back.content.tensors.get(k)!.data, k).toEqual(v.data);
    const h = path.join(dir, 'f16');
    await writeModelFolder(h, await buildModelFolder({ kind: 'inp-former', config: CFG, tensors: t }, { name: 'x', dtype: 'F16' }));
    const half = await readModelFolder(h);
    const w = half.content.tensors.get('decoder.0.attn.q.weight')!;
    expect(w.dtype).toBe('F16');
    const ref = t.get('decoder.0.attn.q.weight')!.data as Float32Array;
    expect(Math.max(...Array.from(w.data as Float32Array, (v, i) => Math.abs(v - ref[i])))).toBeLessThan(1e-4);
  });

  it('detects a corrupted weights file and bad manifest fields by name', async () => {
    const out = path.join(dir, 'bad');
    await writeModelFolder(out, await buildModelFolder({ kind: 'inp-former', config: CFG, tensors: t }, { name: 'x' }));
    const wf = path.join(out, 'weights.safetensors');
    const bytes = readFileSync(wf); bytes[bytes.length - 1] ^= 1; writeFileSync(wf, bytes);
    await expect(readModelFolder(out)).rejects.toThrow(/weights\.safetensors: sha256 does not match/);
    const mf = path.join(out, 'manifest.json');
    const m = JSON.parse(readFileSync(mf, 'utf8'));
    writeFileSync(mf, JSON.stringify({ ...m, preprocess: { ...m.preprocess, crop: -3 } }));
    await expect(readModelFolder(out)).rejects.toThrow(/preprocess\.crop: must be a positive integer/);
    writeFileSync(mf, JSON.stringify({ ...m, formatVersion: 9 }));
    await expect(readModelFolder(out)).rejects.toThrow(/formatVersion: unsupported version 9/);
  });

  it('never writes over a folder that is not a model folder', async () => {
    const user = path.join(dir, 'photos');
    mkdirSync(user);
    writeFileSync(path.join(user, 'holiday.jpg'), 'precious');
    await expect(writeModelFolder(user, await buildModelFolder({ kind: 'inp-former', config: CFG, tensors: t }, { name: 'x' })))
      .rejects.toThrow(/photos: folder exists and is not a model folder/);
    expect(readFileSync(path.join(user, 'holiday.jpg'), 'utf8')).toBe('precious');
  });
});

describe('kNN model folder weights', () => {
  const knn = (bank: Float32Array) => ({
    kind: 'knn' as const,
    knn: { encoder: { kind: 'nsfwjs-mobilenetv2' as const, layers: ['block_2'], localAverage: true, grid: 4 }, bankSize: 2, dim: 2, coresetRatio: 1, seed: 0, images: 1 },
    tensors: new Map([['memory_bank', { dtype: 'F32' as const, shape: [2, 2], data: bank }]]) as TensorMap,
  });
  const pre = { protocol: 'official' as const, resize: 32, crop: 32, mapSize: 32, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };

  it('refuses a NaN or infinite memory bank, naming the tensor and element, when writing and when reading a folder', async () => {
    await expect(buildModelFolder(knn(Float32Array.of(0, 1, Number.NaN, 2)), { name: 'bad', preprocess: pre })).rejects.toThrow(/bad: memory_bank.*NaN at element 2/);
    const good = await buildModelFolder(knn(Float32Array.of(0, 1, 2, 3)), { name: 'good', preprocess: pre });
    const dir = mkdtempSync(path.join(tmpdir(), 'inp-knn-nan-'));
    await writeModelFolder(dir, good);
    // Tamper with the weights after the fact (sha256 updated too, as a careless tool would): reading still refuses.
    const bytes = writeSafetensors(knn(Float32Array.of(0, Number.POSITIVE_INFINITY, 2, 3)).tensors);
    writeFileSync(path.join(dir, 'weights.safetensors'), bytes);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    manifest.files['weights.safetensors'] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    await expect(readModelFolder(dir)).rejects.toThrow(/memory_bank.*Infinity at element 1/);
  });
});
