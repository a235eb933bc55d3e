import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initRefineTensors, refinedCoarse, refineLogits, uploadRefine, disposeRefine } from '../../../src/refine/head.ts';
import { expectedRefineShapes, REFINE_FILE } from '../../../src/refine/config.ts';
import { maskTarget } from '../../../src/refine/train-head.ts';
import { buildModelFolder, MANIFEST_FILE } from '../../../src/model-folder/manifest.ts';
import { openModel } from '../../../src/model-folder/open.ts';
import { useBackend } from '../../../src/runtime/backend.ts';
import type { RefineConfig, TensorMap } from '../../../src/types.ts';

const config: RefineConfig = { inputDim: 5, widths: [6, 4, 3], rawScale: 2, training: { normals: 4, masks: 0, steps: 1, seed: 0 } };

describe('the refinement head', () => {
  beforeAll(() => useBackend('wasm'));

  it('turns a g×g grid of residual features into 4g×4g logits; the transposed convolutions write disjoint 2×2 blocks', () => {
    const tensors = initRefineTensors(config, new Float32Array(5).fill(1), 1);
    const p = uploadRefine(tensors);
    const before = tf.memory().numTensors;
    const x = tf.randomUniform([2, 3, 3, 5], 0, 1, 'float32', 2) as tf.Tensor4D;
    const y = refineLogits(x, p);
    expect(y.shape).toEqual([2, 12, 12, 1]);
    // A change in one token reaches only its own 4×4 block.
    const x2 = tf.tidy(() => tf.add(x, tf.oneHot(tf.tensor1d([4], 'int32'), 9).reshape([1, 3, 3, 1]).mul(5)) as tf.Tensor4D);
    const d = tf.tidy(() => tf.abs(tf.sub(refineLogits(x2, p), y)).arraySync() as number[][][][]);
    for (let r = 0; r < 12; r++) {
      for (let c = 0; c < 12; c++) {
        const near = r >= 4 && r <= 7 && c >= 4 && c <= 7;
        if (!near) expect(d[0][r][c][0]).toBe(0);
      }
    }
    expect(Math.max(...d[0].slice(4, 8).flatMap((row) => row.slice(4, 8).map((v) => v[0])))).toBeGreaterThan(0);
    tf.dispose([x, x2, y]);
    expect(tf.memory().numTensors).toBe(before);
    disposeRefine(p);
  });

  it('averages the raw map (divided by its normal level, upsampled) with the head\'s probability', () => {
    const coarse = tf.fill([1, 2, 2, 1], 4) as tf.Tensor4D;
    const logits = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    const out = refinedCoarse(coarse, logits, 2);
    expect(out.shape).toEqual([1, 8, 8, 1]);
    for (const v of out.dataSync()) expect(v).toBeCloseTo((4 / 2 + 0.5) / 2, 6);
    tf.dispose([coarse, logits, out]);
  });

  it('mask targets are each cell\'s area share', () => {
    const mask = { width: 8, height: 8, data: new Uint8Array(64) };
    mask.data[0] = 1; mask.data[1] = 1; mask.data[8] = 1;
    const t = maskTarget(mask, 4);
    expect(t[0]).toBeCloseTo(0.75);
    expect(t.slice(1).every((v) => v === 0)).toBe(true);
  });

  it('is saved as refine.safetensors beside the untouched detector weights and read back; bad heads are refused by name', async () => {
    const bank: TensorMap = new Map([['memory_bank', { dtype: 'F32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i) }]]);
    const knn = { encoder: { kind: 'nsfwjs-mobilenetv2' as const, layers: ['block_2'], localAverage: true, grid: 4 }, bankSize: 3, dim: 4, coresetRatio: 1, seed: 0, images: 1 };
    const head = { config: { ...config, validation: { raw: 0.3, refined: 0.5, what: 'pixel AP' } }, tensors: initRefineTensors(config, new Float32Array(5).fill(2), 3) };
    const plain = await buildModelFolder({ kind: 'knn', knn, tensors: bank }, { name: 'k' });
    const built = await buildModelFolder({ kind: 'knn', knn, tensors: bank, refine: head }, { name: 'k' });
    expect(built.files.get('weights.safetensors')).toEqual(plain.files.get('weights.safetensors'));
    expect([...built.files.keys()].sort()).toEqual([REFINE_FILE, 'weights.safetensors']);
    expect(built.manifest.refine).toEqual(head.config);
    const files = new Map([...built.files, [MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(built.manifest))]]);
    const opened = await openModel({ files, name: 'refined' });
    expect(opened.content.kind).toBe('knn');
    const got = opened.content.kind === 'knn' ? opened.content.refine : undefined;
    expect(got?.config).toEqual(head.config);
    expect([...got!.tensors.keys()]).toEqual([...expectedRefineShapes(config).keys()]);
    expect(got!.tensors.get('proj.weight')!.data).toEqual(head.tensors.get('proj.weight')!.data);

    const bad = new Map(head.tensors);
    bad.set('input_scale', { dtype: 'F32', shape: [5], data: new Float32Array(5) });
    await expect(buildModelFolder({ kind: 'knn', knn, tensors: bank, refine: { config, tensors: bad } }, { name: 'k' })).rejects.toThrow(/refine\.safetensors: input_scale.*must be positive/);
    const nan = new Map(head.tensors);
    nan.set('out.bias', { dtype: 'F32', shape: [1], data: Float32Array.of(NaN) });
    await expect(buildModelFolder({ kind: 'knn', knn, tensors: bank, refine: { config, tensors: nan } }, { name: 'k' })).rejects.toThrow(/out\.bias.*NaN/);
    const manifest = { ...built.manifest, refine: { ...built.manifest.refine, widths: [6, 4] } };
    await expect(openModel({ files: new Map([...files, [MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest))]]), name: 'm' })).rejects.toThrow(/refine\.widths: must be 3 positive integers/);
    const noFile = { ...built.manifest, files: { 'weights.safetensors': built.manifest.files['weights.safetensors'] } };
    await expect(openModel({ files: new Map([...files, [MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(noFile))]]), name: 'm' })).rejects.toThrow(/files\.refine\.safetensors: is missing/);
  });
});
