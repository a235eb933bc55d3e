import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, InputError } from '../../../src/errors.ts';
import { randomInpFormer } from '../../../src/inp-former/init.ts';
import { createInpFormer, type InpFormer, type PredictOptions } from '../../../src/inp-former/predict.ts';
import { buildInpFormerGraph, exportInpFormerOnnx, METADATA_KEY } from '../../../src/onnx/export-inp-former.ts';
import { decodeModel } from '../../../src/onnx/proto.ts';
import { loadOnnxRuntime } from '../../../src/platform/node/onnx-runtime.ts';
import { createOnnxInpFormer, type OnnxInpFormer } from '../../../src/platform/node/onnx-session.ts';
import { useBackend } from '../../../src/runtime/backend.ts';
import type { InpFormerConfig, VitEncoderConfig } from '../../../src/types.ts';
import { maxAbsDiff, relMaxDiff } from '../../helpers/shared.ts';

/** Not the fixture's shape: width 96, 3 heads, 6 blocks, 4 taps, 4 decoder blocks, no registers, 5×5 table. */
const ENCODER: VitEncoderConfig = { kind: 'dinov2', embedDim: 96, depth: 6, numHeads: 3, patchSize: 14, registerTokens: 0, posGridSize: 5, mlpRatio: 4, lnEps: 1e-6, interpolateOffset: 0.1 };
const CFG: InpFormerConfig = {
  architecture: 'inp-former',
  encoder: ENCODER,
  embedDim: 96, numHeads: 3, inpCount: 4, decoderDepth: 4, targetLayers: [1, 2, 3, 4],
  fuseEncoder: [[0, 1], [2, 3]], fuseDecoder: [[0, 1], [2, 3]], mlpRatio: 4, lnEps: 1e-8,
};
const WEIGHTS = randomInpFormer(CFG, 7);
/** Registers on, and a head that taps every block. */
const CFG_REG: InpFormerConfig = { ...CFG, encoder: { ...ENCODER, registerTokens: 2, depth: 3 }, targetLayers: [0, 1, 2], fuseEncoder: [[0], [1, 2]] };
const WEIGHTS_REG = randomInpFormer(CFG_REG, 8);

function batch(n: number, h: number, w: number, seed: number) {
  const t = tf.tidy(() => tf.randomNormal([n, 3, h, w], 0, 1, 'float32', seed));
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return { data, shape: [n, 3, h, w] as [number, number, number, number] };
}

const loaded = await loadOnnxRuntime();
const SKIP = loaded.ok ? '' : ` (skipped: ${loaded.reason})`;

describe(`onnx backend for predict${SKIP}`, () => {
  let onnx: OnnxInpFormer;
  let onnxReg: OnnxInpFormer;
  let ref: InpFormer;
  let refReg: InpFormer;
  beforeAll(async () => {
    await useBackend('cpu');
    ref = createInpFormer(CFG, WEIGHTS);
    refReg = createInpFormer(CFG_REG, WEIGHTS_REG);
    if (!loaded.ok) return;
    onnx = await createOnnxInpFormer(CFG, WEIGHTS, { threads: 1 });
    onnxReg = await createOnnxInpFormer(CFG_REG, WEIGHTS_REG, { threads: 1 });
  });
  afterAll(async () => {
    ref.dispose();
    refReg.dispose();
    await onnx?.dispose();
    await onnxReg?.dispose();
  });

  const cases: Array<[string, () => [OnnxInpFormer, InpFormer], ReturnType<typeof batch>, PredictOptions]> = [
    ['non-square 42×56 input, batch 2', () => [onnx, ref], batch(2, 3 * 14, 4 * 14, 1), { mapSize: 64 }],
    ['zero-shot map', () => [onnx, ref], batch(2, 42, 56, 2), { mapSize: 64, zeroShot: true }],
    ['annotate output size and a non-square map', () => [onnx, ref], batch(1, 56, 56, 3), { mapSize: [40, 48], outputSize: [37, 81] }],
    ['registers, every block tapped, max score (map 9×9 < 100 values)', () => [onnxReg, refReg], batch(1, 28, 28, 4), { mapSize: 9 }],
  ];
  for (const [name, models, input, opts] of cases) {
    it.skipIf(!loaded.ok)(`equals the tfjs path: ${name}${SKIP}`, async () => {
      const [o, t] = models();
      const a = await o.predict(input, opts);
      const b = await t.predict(input, opts);
      expect([a.height, a.width, a.maps.length]).toEqual([b.height, b.width, b.maps.length]);
      for (let i = 0; i < a.maps.length; i++) expect(relMaxDiff(a.maps[i], b.maps[i])).toBeLessThan(1e-4);
      expect(maxAbsDiff(a.scores, b.scores)).toBeLessThan(1e-5);
    });
  }

  it.skipIf(!loaded.ok)(`takes a tfjs tensor like createInpFormer, leaving it to the caller${SKIP}`, async () => {
    const input = batch(1, 28, 28, 6);
    const x = tf.tensor4d(input.data, input.shape);
    const a = await onnx.predict(x, { mapSize: 16 });
    expect(x.isDisposed).toBe(false);
    x.dispose();
    expect(a.maps[0]).toEqual((await onnx.predict(input, { mapSize: 16 })).maps[0]);
  });

  it.skipIf(!loaded.ok)(`keeps working across input sizes beyond its session cache${SKIP}`, async () => {
    for (const s of [28, 42, 56, 28]) {
      const r = await onnx.predict(batch(1, s, s, s), { mapSize: 16 });
      expect(r.maps[0].length).toBe(256);
      expect(Number.isFinite(r.scores[0])).toBe(true);
    }
  });

  it.skipIf(!loaded.ok)(`rejects inputs that are not a [N, 3, H, W] batch of whole patches${SKIP}`, async () => {
    await expect(onnx.predict(batch(1, 30, 28, 5), { mapSize: 16 })).rejects.toThrow(/30×28 is not a positive multiple of the model's 14-pixel patch \(nearest: 28×28\)/);
    await expect(onnx.predict({ data: new Float32Array(10), shape: [1, 3, 28, 28] }, { mapSize: 16 })).rejects.toThrow(InputError);
  });
});

describe('ONNX exporter', () => {
  const opts = { inputSize: [28, 28] as [number, number], mapSize: [16, 16] as [number, number] };

  it('stores the config and sizes as metadata and writes only the blocks that run', () => {
    const m = decodeModel(exportInpFormerOnnx(CFG, WEIGHTS, opts));
    const meta = JSON.parse(m.metadata_props.find((p) => p.key === METADATA_KEY)!.value);
    expect(meta).toEqual({ config: CFG, inputSize: [28, 28], mapSize: [16, 16], topRatio: 0.01 });
    const names = m.graph.initializer.map((t) => t.name);
    expect(names.some((n) => n.startsWith('encoder.blocks.4.'))).toBe(true);
    expect(names.some((n) => n.startsWith('encoder.blocks.5.'))).toBe(false);
  });

  it('names the missing or mis-shaped tensor and the file', () => {
    const missing = new Map(WEIGHTS);
    missing.delete('decoder.2.attn.kv.bias');
    expect(() => buildInpFormerGraph(CFG, missing, opts, 'm.pth')).toThrow(new CheckpointError('m.pth: decoder.2.attn.kv.bias', 'tensor is missing (needed by the ONNX graph)'));
    const bad = new Map(WEIGHTS);
    bad.set('aggregation.0.attn.q.weight', { dtype: 'F32', shape: [96, 95], data: new Float32Array(96 * 95) });
    expect(() => buildInpFormerGraph(CFG, bad, opts, 'm.pth')).toThrow(/m\.pth: aggregation\.0\.attn\.q\.weight: has shape \[96,95\], expected \[96,96\]/);
  });

  it('refuses a head narrower than its encoder and sizes that are not whole patches', () => {
    const cnn: InpFormerConfig = { ...CFG, encoder: { kind: 'resnet18', layers: ['layer2', 'layer3'], localAverage: true } };
    expect(() => buildInpFormerGraph(cnn, WEIGHTS, opts)).toThrow(new InputError('embedDim', "head width 96 differs from the encoder's 384"));
    expect(() => buildInpFormerGraph(CFG, WEIGHTS, { ...opts, inputSize: [28, 35] })).toThrow(InputError);
  });
});
