import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { command } from '../../../integrations/cli/export-onnx.ts';
import { writeSafetensors } from '../../../src/checkpoint/safetensors.ts';
import { randomInpFormer } from '../../../src/inp-former/init.ts';
import { METADATA_KEY, ONNX_IO } from '../../../src/onnx/export-inp-former.ts';
import { decodeModel } from '../../../src/onnx/proto.ts';
import { loadOnnxRuntime } from '../../../src/platform/node/onnx-runtime.ts';
import { knnTensors } from '../../../src/knn/knn.ts';
import { buildModelFolder } from '../../../src/model-folder/manifest.ts';
import { writeModelFolder } from '../../../src/platform/node/model-folder.ts';
import { KNN_METADATA_KEY } from '../../../src/onnx/export-knn.ts';
import type { InpFormerConfig, KnnConfig } from '../../../src/types.ts';

const CFG: InpFormerConfig = {
  architecture: 'inp-former',
  encoder: { kind: 'dinov2', embedDim: 64, depth: 4, numHeads: 1, patchSize: 14, registerTokens: 4, posGridSize: 4, mlpRatio: 4, lnEps: 1e-6, interpolateOffset: 0.1 },
  embedDim: 64, numHeads: 1, inpCount: 6, decoderDepth: 2, targetLayers: [1, 2, 3],
  fuseEncoder: [[0, 1], [2]], fuseDecoder: [[0], [1]], mlpRatio: 4, lnEps: 1e-8,
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'export-onnx-'));
const ckpt = path.join(dir, 'tiny.safetensors');
writeFileSync(ckpt, writeSafetensors(randomInpFormer(CFG, 3)));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('inp-former export-onnx', () => {
  it('exports a checkpoint at --size and the file runs in onnxruntime-node with a free batch', async () => {
    const out = path.join(dir, 'tiny.onnx');
    await command.run(['-m', ckpt, '-o', out, '--size', '42', '--map-size', '32']);
    const bytes = new Uint8Array(readFileSync(out));
    const meta = JSON.parse(decodeModel(bytes).metadata_props.find((p) => p.key === METADATA_KEY)!.value);
    expect(meta.inputSize).toEqual([42, 42]);
    expect(meta.mapSize).toEqual([32, 32]);
    expect(meta.preprocess).toBeUndefined(); // 42 is not the default preprocessing's 392 crop
    const loaded = await loadOnnxRuntime();
    if (!loaded.ok) return;
    const s = await loaded.ort.InferenceSession.create(bytes);
    const r = await s.run({ [ONNX_IO.input]: new loaded.ort.Tensor('float32', new Float32Array(3 * 3 * 42 * 42).fill(0.5), [3, 3, 42, 42]) });
    expect(r[ONNX_IO.map].dims).toEqual([3, 1, 32, 32]);
    expect(r[ONNX_IO.zeroShotScore].dims).toEqual([3]);
    await s.release();
  });

  it('exports a kNN model folder over the nsfwjs MobileNetV2 (weights from the installed package) with map and score outputs', async () => {
    const knn: KnnConfig = { encoder: { kind: 'nsfwjs-mobilenetv2', layers: ['block_2'], localAverage: true }, bankSize: 3, dim: 24, coresetRatio: 1, seed: 0, images: 1 };
    const folder = path.join(dir, 'knn');
    await writeModelFolder(folder, await buildModelFolder({ kind: 'knn', knn, tensors: knnTensors({ data: new Float32Array(72).fill(0.5), size: 3, dim: 24 }) }, { name: 'knn' }));
    const out = path.join(dir, 'knn.onnx');
    await command.run(['-m', folder, '-o', out, '--size', '64', '--map-size', '16']);
    const m = decodeModel(new Uint8Array(readFileSync(out)));
    expect(JSON.parse(m.metadata_props.find((p) => p.key === KNN_METADATA_KEY)!.value).knn).toEqual(knn);
    expect(m.graph.output.map((o) => o.name)).toEqual([ONNX_IO.map, ONNX_IO.score]);
  });

  it('says what is wrong with a size that is not whole patches, a missing model and a missing -o', async () => {
    await expect(command.run(['-m', ckpt, '-o', path.join(dir, 'x.onnx'), '--size', '40'])).rejects.toThrow("size: input 40×40 is not a positive multiple of the model's 14-pixel patch (nearest: 42×42)");
    await expect(command.run(['-m', path.join(dir, 'none.pth'), '-o', path.join(dir, 'x.onnx')])).rejects.toThrow(/none\.pth: model not found/);
    await expect(command.run(['-m', ckpt])).rejects.toThrow(/missing required option --output/);
  });
});
