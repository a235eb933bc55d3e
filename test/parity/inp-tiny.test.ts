import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resamplePosEmbed } from '../../src/encoder/pos-embed.ts';
import { createInpFormer, type InpFormer } from '../../src/inp-former/predict.ts';
import { gaussianKernel, reconstructionMap, toInputSize } from '../../src/map/anomaly-map.ts';
import { useBackend, type BackendName } from '../../src/runtime/backend.ts';
import { cosineSimilarity } from '../../src/runtime/ops.ts';
import type { TensorMap } from '../../src/types.ts';
import { INP_TINY_CONFIG } from '../helpers/inp-tiny.ts';
import { readPthByIndex } from '../helpers/pth-index.ts';
import { fixture, HAS_FIXTURES, loadFixtureTensors, maxAbsDiff, relMaxDiff, skipReason } from '../helpers/shared.ts';

const SKIP = HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`;

const CONFIG = INP_TINY_CONFIG;

/** Tolerances of the fixture README: encoder side relative to absmax, decoder side looser, maps/scores near 1e-5. */
const TOL = { encoder: 1e-5, decoder: 1e-4, map: 1e-4, score: 1e-5 };

/** NCHW [B, C, h, w] → token layout [B, h·w, C] used by the model. */
function nchwToTokens(d: Float32Array, [B, C, h, w]: number[]): Float32Array {
  const out = new Float32Array(d.length);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let i = 0; i < h * w; i++) out[(b * h * w + i) * C + c] = d[(b * C + c) * h * w + i];
  return out;
}

/** Largest error seen per quantity and backend, printed at the end for the record. */
const measured: Record<string, number> = {};
function within(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number, rel = true): void {
  const e = rel ? relMaxDiff(got, want) : maxAbsDiff(got, want);
  measured[name] = Math.max(measured[name] ?? 0, e);
  expect(e, name).toBeLessThan(tol);
}

describe(`INP-Former reproduces fixtures/inp-tiny${SKIP}`, () => {
  let weights: TensorMap;
  let fwd: TensorMap;
  let images: { data: Float32Array; shape: [number, number, number, number] };
  const f = (name: string) => fwd.get(name)!.data as Float32Array;

  beforeAll(() => {
    if (!HAS_FIXTURES) return;
    weights = readPthByIndex(fixture('inp-tiny', 'model.pth'));
    fwd = loadFixtureTensors('inp-tiny', 'forward.safetensors');
    const img = loadFixtureTensors('inp-tiny', 'input.safetensors').get('images')!;
    images = { data: img.data as Float32Array, shape: img.shape as [number, number, number, number] };
  });
  afterAll(() => {
    if (Object.keys(measured).length) console.log(`inp-tiny max errors (relative to absmax unless abs):\n${Object.entries(measured).map(([k, v]) => `  ${k}: ${v.toExponential(2)}`).join('\n')}`);
  });

  it.skipIf(!HAS_FIXTURES)(`reads model.pth through its index (315 float32 tensors)${SKIP}`, () => {
    expect(weights.size).toBe(315);
    expect(weights.get('encoder.pos_embed')!.shape).toEqual([1, 1370, 128]);
  });

  it.skipIf(!HAS_FIXTURES)(`resamples the positional table like interpolate_pos_encoding (8×8, 28×28, identity at 37)${SKIP}`, () => {
    const table = weights.get('encoder.pos_embed')!.data as Float32Array;
    within('pos_embed_8x8 (abs)', resamplePosEmbed(table, 128, 8, 8), f('pos_embed_8x8'), 1e-6, false);
    within('pos_embed_28x28 (abs)', resamplePosEmbed(table, 128, 28, 28), f('pos_embed_28x28'), 1e-6, false);
    expect(resamplePosEmbed(table, 128, 37, 37)).toBe(table);
  });

  it.skipIf(!HAS_FIXTURES)(`builds the official Gaussian kernel${SKIP}`, () => {
    within('gaussian_kernel (abs)', gaussianKernel(5, 4), f('gaussian_kernel'), 1e-7, false);
  });

  for (const backend of ['cpu', 'wasm'] as BackendName[]) {
    describe(`on ${backend}`, () => {
      let model: InpFormer;
      beforeAll(async () => {
        if (!HAS_FIXTURES) return;
        await useBackend(backend);
        model = createInpFormer(CONFIG, weights);
      });
      afterAll(() => model?.dispose());

      it.skipIf(!HAS_FIXTURES)(`matches every intermediate of the forward pass${SKIP}`, async () => {
        const x = tf.tensor4d(images.data, images.shape);
        const out = model.forward(x, { intermediates: true });
        const m = out.intermediates!;
        const check = async (t: tf.Tensor, name: string, tol: number, want = f(name)) =>
          within(`${name} @${backend}`, (await t.data()) as Float32Array, want, tol);
        await check(m.tokens!, 'tokens', TOL.encoder);
        for (let i = 0; i < 8; i++) await check(m.layers[i], `enc_layer${i}`, TOL.encoder);
        await check(m.fusedQuery, 'fused_query', TOL.encoder);
        await check(m.inp, 'inp', TOL.encoder);
        await check(out.distance, 'distance', TOL.encoder);
        await check(m.bottleneck, 'bottleneck_out', TOL.decoder);
        for (let i = 0; i < 8; i++) await check(m.decoder[i], `dec_block${i}`, TOL.decoder);
        for (const g of [0, 1]) {
          await check(out.en[g], `E_${g}`, TOL.encoder, nchwToTokens(f(`E_${g}`), [2, 128, 8, 8]));
          await check(out.de[g], `D_${g}`, TOL.decoder, nchwToTokens(f(`D_${g}`), [2, 128, 8, 8]));
          const cos = tf.tidy(() => tf.sub(1, cosineSimilarity(out.en[g], out.de[g], 2)));
          await check(cos, `cos_map_${g}`, TOL.map);
          cos.dispose();
        }
        const map112 = tf.tidy(() => toInputSize(reconstructionMap(out.en, out.de, 8, 8), [112, 112]));
        await check(map112, 'anomaly_map_112', TOL.map);
        tf.dispose([x, map112, out.en, out.de, out.distance, m.tokens, m.layers, m.fusedQuery, m.inp, m.bottleneck, m.decoder]);
      });

      it.skipIf(!HAS_FIXTURES)(`reproduces the official 256×256 anomaly map and image score${SKIP}`, async () => {
        const r = await model.predict(images, { mapSize: 256 });
        expect([r.height, r.width]).toEqual([256, 256]);
        for (let b = 0; b < 2; b++) {
          within(`anomaly_map @${backend}`, r.maps[b], f('anomaly_map').subarray(b * 65536, (b + 1) * 65536), TOL.map);
        }
        within(`image_score (abs) @${backend}`, r.scores, f('image_score'), TOL.score, false);
      });

      it.skipIf(!HAS_FIXTURES)(`reproduces the zero-shot (INP distance) score${SKIP}`, async () => {
        const r = await model.predict(images, { mapSize: 256, zeroShot: true });
        within(`zs_image_score (abs) @${backend}`, r.scores, f('zs_image_score'), TOL.score, false);
      });

      // cpu is ~30× slower than wasm; one backend is enough to prove the tensor bookkeeping.
      if (backend === 'wasm') {
        it.skipIf(!HAS_FIXTURES)(`leaks no tensors across 50 predictions${SKIP}`, async () => {
          await model.predict(images, { mapSize: 64 });
          const after1 = tf.memory().numTensors;
          for (let i = 0; i < 49; i++) await model.predict(images, { mapSize: 64, zeroShot: i % 2 === 0, outputSize: i % 3 ? undefined : [50, 70] });
          expect(tf.memory().numTensors).toBe(after1);
        });
      }
    });
  }
});
