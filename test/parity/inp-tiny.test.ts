import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferInpFormerConfig } from '../../src/checkpoint/infer-config.ts';
import { readPth } from '../../src/checkpoint/pth.ts';
import { resamplePosEmbed } from '../../src/encoder/pos-embed.ts';
import { gaussianKernel } from '../../src/map/anomaly-map.ts';
import { createInpFormer, type ForwardTrace, type InpFormer } from '../../src/inp-former/model.ts';
import { useBackend, type BackendName } from '../../src/runtime/backend.ts';
import type { TensorMap } from '../../src/types.ts';
import { fixture, HAS_FIXTURES, loadFixtureJson, loadFixtureTensors, maxAbsDiff, relMaxDiff, skipReason } from '../helpers/shared.ts';

const SKIP = HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`;

/** NCHW [B,C,h,w] fixture -> token layout [B, h·w, C] used by our head. */
function nchwToTokens(d: Float32Array, [B, C, h, w]: number[]): Float32Array {
  const out = new Float32Array(d.length);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let i = 0; i < h * w; i++) out[(b * h * w + i) * C + c] = d[(b * C + c) * h * w + i];
  return out;
}

describe.skipIf(!HAS_FIXTURES)(`INP-Former forward reproduces fixtures/inp-tiny${SKIP}`, () => {
  let weights: TensorMap;
  let fwd: TensorMap;
  let input: { data: Float32Array; shape: [number, number, number, number] };
  let ref: any;
  beforeAll(() => {
    const file = fixture('inp-tiny', 'model.pth');
    weights = readPth(new Uint8Array(readFileSync(file)), file);
    fwd = loadFixtureTensors('inp-tiny', 'forward.safetensors');
    const img = loadFixtureTensors('inp-tiny', 'input.safetensors').get('images')!;
    input = { data: img.data as Float32Array, shape: img.shape as [number, number, number, number] };
    ref = loadFixtureJson('inp-tiny', 'reference.json');
  });
  const f = (name: string) => fwd.get(name)!.data as Float32Array;

  it('infers the config from tensor shapes', () => {
    const c = inferInpFormerConfig(weights, 'model.pth');
    expect(c).toMatchObject({ embedDim: 128, numHeads: 2, inpCount: 6, decoderDepth: 8, targetLayers: [2, 3, 4, 5, 6, 7, 8, 9],
      fuseEncoder: [[0, 1, 2, 3], [4, 5, 6, 7]], fuseDecoder: [[0, 1, 2, 3], [4, 5, 6, 7]] });
    expect(c.encoder).toMatchObject({ embedDim: 128, depth: 12, numHeads: 2, patchSize: 14, registerTokens: 4, posGridSize: 37 });
  });

  it('resamples the positional table bicubically like interpolate_pos_encoding (8×8 and 28×28)', () => {
    const table = weights.get('encoder.pos_embed')!.data as Float32Array;
    expect(maxAbsDiff(resamplePosEmbed(table, 128, 8, 8), f('pos_embed_8x8'))).toBeLessThan(1e-6);
    expect(maxAbsDiff(resamplePosEmbed(table, 128, 28, 28), f('pos_embed_28x28'))).toBeLessThan(1e-6);
    expect(resamplePosEmbed(table, 128, 37, 37)).toBe(table);
  });

  it('builds the official Gaussian kernel', () => {
    expect(maxAbsDiff(gaussianKernel(5, 4), f('gaussian_kernel'))).toBeLessThan(1e-7);
  });

  for (const backend of ['cpu', 'wasm'] as BackendName[]) {
    describe(`on ${backend}`, () => {
      let model: InpFormer;
      beforeAll(async () => {
        await useBackend(backend);
        model = createInpFormer(inferInpFormerConfig(weights, 'model.pth'), weights);
      });
      afterAll(() => model?.dispose());

      it('matches every intermediate of the forward pass', async () => {
        const trace: ForwardTrace = {};
        const x = tf.tensor4d(input.data, input.shape);
        const out = model.forward(x, trace);
        const check = async (t: tf.Tensor, name: string, tol: number) => {
          const got = (await t.data()) as Float32Array;
          expect(relMaxDiff(got, f(name)), name).toBeLessThan(tol);
        };
        await check(trace.tokens!, 'tokens', 1e-5);
        for (let i = 0; i < 8; i++) await check(trace.layers![i], `enc_layer${i}`, 1e-5);
        await check(trace.fusedQuery!, 'fused_query', 1e-5);
        await check(trace.inp!, 'inp', 1e-5);
        await check(out.distance, 'distance', 1e-5);
        await check(trace.bottleneck!, 'bottleneck_out', 1e-4);
        for (let i = 0; i < 8; i++) await check(trace.decoder![i], `dec_block${i}`, 1e-4);
        for (const [g, t] of out.en.entries()) expect(relMaxDiff(await t.data() as Float32Array, nchwToTokens(f(`E_${g}`), [2, 128, 8, 8])), `E_${g}`).toBeLessThan(1e-5);
        for (const [g, t] of out.de.entries()) expect(relMaxDiff(await t.data() as Float32Array, nchwToTokens(f(`D_${g}`), [2, 128, 8, 8])), `D_${g}`).toBeLessThan(1e-4);
        tf.dispose([x, out.en, out.de, out.distance, trace.tokens!, trace.layers!, trace.fusedQuery!, trace.inp!, trace.bottleneck!, trace.decoder!]);
      });

      it('reproduces the official 256×256 anomaly map and image score', async () => {
        const r = await model.predict(input, { mapSize: 256 });
        const refMap = f('anomaly_map');
        for (let b = 0; b < 2; b++) {
          const want = refMap.subarray(b * 65536, (b + 1) * 65536);
          expect(relMaxDiff(r.maps[b], want)).toBeLessThan(1e-4);
          expect(Math.abs(r.scores[b] - f('image_score')[b])).toBeLessThan(1e-5);
        }
        expect(r.scores[0]).toBeCloseTo(ref.eval.image_score[0], 5);
      });

      it('reproduces the zero-shot (INP distance) score', async () => {
        const r = await model.predict(input, { mapSize: 256, zeroShot: true });
        for (let b = 0; b < 2; b++) expect(Math.abs(r.scores[b] - f('zs_image_score')[b])).toBeLessThan(1e-5);
      });

      // cpu is ~30× slower than wasm; one backend is enough to prove the tensor bookkeeping.
      it.skipIf(backend !== 'wasm')('leaks no tensors across 50 predictions', async () => {
        await model.predict(input, { mapSize: 64 });
        const after1 = tf.memory().numTensors;
        for (let i = 0; i < 49; i++) await model.predict(input, { mapSize: 64, zeroShot: i % 2 === 0 });
        expect(tf.memory().numTensors).toBe(after1);
      });
    });
  }
});
