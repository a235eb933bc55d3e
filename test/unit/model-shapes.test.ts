import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { randomInpFormer } from '../../src/inp-former/init.ts';
import { createInpFormer } from '../../src/inp-former/model.ts';
import { useBackend } from '../../src/runtime/backend.ts';
import type { InpFormerConfig } from '../../src/types.ts';

describe('INP-Former for other shapes', () => {
  it('runs any width / depth / head count, no registers, non-square input', async () => {
    await useBackend('cpu');
    const cfg: InpFormerConfig = {
      architecture: 'inp-former',
      encoder: { kind: 'dinov2', embedDim: 96, depth: 6, numHeads: 3, patchSize: 14, registerTokens: 0, posGridSize: 5, mlpRatio: 4, lnEps: 1e-6, interpolateOffset: 0.1 },
      embedDim: 96, numHeads: 3, inpCount: 4, decoderDepth: 4, targetLayers: [1, 2, 3, 4],
      fuseEncoder: [[0, 1], [2, 3]], fuseDecoder: [[0, 1], [2, 3]], mlpRatio: 4, lnEps: 1e-8,
    };
    const model = createInpFormer(cfg, randomInpFormer(cfg, 7));
    const x = tf.randomNormal([2, 3, 42, 56], 0, 1, 'float32', 3) as tf.Tensor4D;
    await model.predict(x, { mapSize: [30, 40] }); // caches this grid's positional table
    const before = tf.memory().numTensors;
    const r = await model.predict(x, { mapSize: [30, 40], outputSize: [60, 80] });
    expect([r.height, r.width]).toEqual([60, 80]);
    expect(r.maps).toHaveLength(2);
    expect(r.maps.every((m) => m.every(Number.isFinite))).toBe(true);
    expect(r.scores.every((s) => Number.isFinite(s) && s >= 0)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});
