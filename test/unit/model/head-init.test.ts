import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultHeadInit, dinov2InpFormerConfig, initHead } from '../../../src/inp-former/init.ts';
import { headForward } from '../../../src/inp-former/model.ts';
import { uploadHead } from '../../../src/inp-former/weights.ts';
import { reconstructionMap } from '../../../src/map/anomaly-map.ts';
import { useBackend } from '../../../src/runtime/backend.ts';
import type { InpFormerConfig } from '../../../src/types.ts';

/** A CNN-token head as the CNN recipe builds it (small: 16 channels, 2 heads, 4 INPs, 2 blocks). */
const CNN: InpFormerConfig = {
  architecture: 'inp-former', encoder: { kind: 'resnet18', layers: ['layer2'], localAverage: true },
  embedDim: 16, numHeads: 2, inpCount: 4, decoderDepth: 2, targetLayers: [0], fuseEncoder: [[0]], fuseDecoder: [[0, 1]], mlpRatio: 4, lnEps: 1e-8,
};

describe('head initialisation', () => {
  beforeAll(async () => { await useBackend('cpu'); });

  it('DINOv2 keeps the official start (parity); CNN tokens get the identity start', () => {
    expect(defaultHeadInit(dinov2InpFormerConfig('small'))).toBe('reference');
    expect(defaultHeadInit(CNN)).toBe('identity');
    const ref = initHead(CNN, 1, 'reference');
    const id = initHead(CNN, 1);
    // Same seed, same noise: the identity start adds exactly the identity to the projections.
    const diff = (k: string) => Array.from(id.get(k)!.data as Float32Array, (v, i) => v - (ref.get(k)!.data as Float32Array)[i]);
    const q = diff('decoder.1.attn.q.weight');
    expect(q.filter((v) => Math.abs(v - 1) < 1e-6)).toHaveLength(16);
    expect(q.filter((v) => Math.abs(v) > 1e-6)).toHaveLength(16);
    expect(diff('prototype_token').every((v) => v === 0)).toBe(true);
    expect(() => initHead({ ...CNN, mlpRatio: 1 }, 1, 'identity')).toThrow(/MLP ratio of at least 2/);
  });

  it('before any step the bottleneck passes the tokens through and an odd token is rebuilt worse than the rest', () => {
    const cfg = CNN;
    const head = uploadHead(initHead(cfg, 3), cfg);
    // 36 tokens drawn around two normal patterns, one of them replaced by something unlike both.
    const rand = tf.randomNormal([1, 36, 16], 0, 0.1, 'float32', 5);
    const patterns = tf.stack([tf.randomNormal([16], 0, 1, 'float32', 6), tf.randomNormal([16], 0, 1, 'float32', 7)]);
    const idx = tf.tensor1d(Array.from({ length: 36 }, (_, i) => i % 2), 'int32');
    const base = tf.add(tf.gather(patterns, idx).expandDims(0), rand) as tf.Tensor3D;
    const odd = tf.randomNormal([1, 1, 16], 0, 1, 'float32', 8);
    const x = tf.concat([base.slice([0, 0, 0], [1, 20, 16]), odd, base.slice([0, 21, 0], [1, 15, 16])], 1) as tf.Tensor3D;
    const out = headForward(head, [x], cfg, { intermediates: true });
    // Up to the reference start's small random weights (σ 0.01), which the identity is added to.
    const passed = tf.sub(out.intermediates!.bottleneck, x).abs().max().dataSync()[0] / x.abs().max().dataSync()[0];
    expect(passed).toBeLessThan(0.1);
    const map = reconstructionMap(out.en, out.de, 6, 6).dataSync();
    const others = Array.from(map).filter((_, i) => i !== 20);
    expect(map[20]).toBeGreaterThan(Math.max(...others));
    tf.dispose([rand, patterns, idx, base, odd, x, out.en, out.de, out.distance, ...Object.values(out.intermediates!).flat()]);
  });
});
