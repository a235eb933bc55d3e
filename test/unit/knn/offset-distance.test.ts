import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PatchEncoder } from '../../../src/encoder/patch-encoder.ts';
import { seededRandom } from '../../../src/inp-former/init.ts';
import { createKnnDetector, type MemoryBank } from '../../../src/knn/knn.ts';
import { finishMap } from '../../../src/map/anomaly-map.ts';
import { nearestDistance } from '../../../src/onnx/export-knn.ts';
import { GraphBuilder } from '../../../src/onnx/graph.ts';
import { DataType, encodeModel } from '../../../src/onnx/proto.ts';
import { loadOnnxRuntime } from '../../../src/platform/node/onnx-runtime.ts';
import { useBackend } from '../../../src/runtime/backend.ts';
import { maxAbsDiff } from '../../helpers/shared.ts';

/**
 * kNN distances with a large common offset (+1000 on every channel, as all-positive CNN features have): the naive
 * ‖a‖² − 2a·b + ‖b‖² in float32 loses the small true distances (terms ~6·10⁷, float32 spacing 4–8 there); centred
 * on the bank mean, both the tfjs detector and the ONNX graph match a float64 reference.
 */
const DIM = 64;
const GRID = 16;
const L = GRID * GRID;
const OFFSET = 1000;
const TOL = 1e-4;

const rand = seededRandom(5);
const bank: MemoryBank = { data: Float32Array.from({ length: 300 * DIM }, () => OFFSET + 2 * rand() - 1), size: 300, dim: DIM };
/** Each query is a bank row plus a nudge of at most 0.05 per channel: nearest distances ~0.2. */
const queries = new Float32Array(L * DIM);
for (let q = 0; q < L; q++) {
  const r = Math.floor(rand() * bank.size);
  for (let c = 0; c < DIM; c++) queries[q * DIM + c] = bank.data[r * DIM + c] + 0.1 * rand() - 0.05;
}

/** Float64 nearest-neighbour distances of the float32 values, differences first: no cancellation. */
const reference = Float64Array.from({ length: L }, (_, q) => {
  let best = Infinity;
  for (let r = 0; r < bank.size; r++) {
    let s = 0;
    for (let c = 0; c < DIM; c++) { const d = queries[q * DIM + c] - bank.data[r * DIM + c]; s += d * d; }
    best = Math.min(best, s);
  }
  return Math.sqrt(best);
});

describe('kNN distances with a +1000 common offset', () => {
  beforeAll(() => useBackend('wasm'));

  it('the naive float32 expansion is visibly wrong here (so the checks below can fail)', () => {
    const naive = tf.tidy(() => {
      const a = tf.tensor2d(queries, [L, DIM]);
      const b = tf.tensor2d(bank.data, [bank.size, DIM]);
      const d2 = tf.add(tf.sub(tf.sum(tf.square(a), 1, true), tf.mul(tf.matMul(a, b, false, true), 2)), tf.sum(tf.square(b), 1));
      return tf.sqrt(tf.relu(tf.min(d2, 1)));
    });
    const err = maxAbsDiff(naive.dataSync(), reference);
    naive.dispose();
    expect(err).toBeGreaterThan(100 * TOL);
  });

  it(`the tfjs detector's map matches the float64 distances' map within ${TOL}`, async () => {
    const encoder: PatchEncoder = {
      config: { kind: 'resnet18', layers: ['layer2'], localAverage: false }, dim: DIM,
      encode: () => ({ tokens: tf.tensor3d(queries, [1, L, DIM]), grid: [GRID, GRID] }),
      dispose: () => undefined,
    };
    const detector = createKnnDetector(encoder, bank);
    const x = tf.zeros([1, 3, GRID, GRID]) as tf.Tensor4D;
    const got = await detector.predict(x, { mapSize: GRID });
    const want = tf.tidy(() => finishMap(tf.tensor4d(Float32Array.from(reference), [1, GRID, GRID, 1]), { inputSize: [GRID, GRID], mapSize: [GRID, GRID], topRatio: 0 }).map.dataSync());
    x.dispose();
    detector.dispose();
    expect(maxAbsDiff(got.maps[0], want)).toBeLessThan(TOL);
  });

  it(`the ONNX graph's distances (onnxruntime-node) match within ${TOL}`, async (ctx) => {
    const loaded = await loadOnnxRuntime();
    if (!loaded.ok) return ctx.skip(loaded.reason);
    const b = new GraphBuilder();
    b.node('Identity', [nearestDistance(b, 'tokens', bank)], {}, ['dist']);
    const bytes = encodeModel(b.build({
      name: 'knn-distance',
      inputs: [{ name: 'tokens', type: DataType.FLOAT, dims: [1, L, DIM] }],
      outputs: [{ name: 'dist', type: DataType.FLOAT, dims: [1, L] }],
    }));
    const session = await loaded.ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    try {
      const out = await session.run({ tokens: new loaded.ort.Tensor('float32', queries, [1, L, DIM]) });
      expect(maxAbsDiff(out.dist.data as Float32Array, reference)).toBeLessThan(TOL);
    } finally {
      await session.release();
    }
  });
});
