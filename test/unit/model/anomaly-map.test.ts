import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { finishMap, gaussianKernel, toInputSize, topScore } from '../../../src/map/anomaly-map.ts';
import { useBackend } from '../../../src/runtime/backend.ts';
import { maxAbsDiff } from '../../helpers/shared.ts';

describe('anomaly map chain', () => {
  it('builds the 5×5 σ=4 kernel as the outer product of the spec’s 1-D weights', () => {
    const w = [0.187627, 0.206068, 0.212609, 0.206068, 0.187627];
    const outer = w.flatMap((a) => w.map((b) => a * b));
    expect(maxAbsDiff(gaussianKernel(5, 4), outer)).toBeLessThan(1e-6);
    expect(gaussianKernel(5, 4).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('scores the mean of the top ⌊H·W·ratio⌋ values, or the maximum when that is 0', async () => {
    await useBackend('cpu');
    const values = Float32Array.from({ length: 400 }, (_, i) => (i * 37) % 400);
    const m = tf.tensor4d(values, [1, 20, 20, 1]);
    const [top4, max] = await Promise.all([topScore(m, 0.01).data(), topScore(m, 0.001).data()]);
    expect(top4[0]).toBeCloseTo((399 + 398 + 397 + 396) / 4, 4);
    expect(max[0]).toBe(399);
    m.dispose();
  });

  it('upsamples with aligned corners, then blurs at the scoring size and resizes for display', async () => {
    await useBackend('cpu');
    const coarse = tf.tensor4d([0, 1, 2, 3, 4, 5], [1, 2, 3, 1]);
    const up = toInputSize(coarse, [5, 7]);
    const u = await up.data();
    // align_corners=True keeps the corner samples and spaces the rest evenly.
    expect([u[0], u[6], u[28], u[34], u[3]]).toEqual([0, 2, 3, 5, 1]);
    const plain = finishMap(coarse, { inputSize: [28, 42], mapSize: [16, 16] });
    const shown = finishMap(coarse, { inputSize: [28, 42], mapSize: [16, 16], outputSize: [100, 60] });
    expect(plain.map.shape).toEqual([1, 16, 16]);
    expect(shown.map.shape).toEqual([1, 100, 60]);
    expect(await shown.score.data()).toEqual(await plain.score.data());
    tf.dispose([coarse, up, plain.map, plain.score, shown.map, shown.score]);
  });
});
