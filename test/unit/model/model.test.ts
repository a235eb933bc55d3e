import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { randomInpFormer } from '../../../src/inp-former/init.ts';
import { headForward } from '../../../src/inp-former/model.ts';
import { createInpFormer, type PredictResult } from '../../../src/inp-former/predict.ts';
import { mapParams, paramTensors, type HeadParams } from '../../../src/inp-former/weights.ts';
import { useBackend, type BackendName } from '../../../src/runtime/backend.ts';
import { cosineSimilarity } from '../../../src/runtime/ops.ts';
import type { InpFormerConfig } from '../../../src/types.ts';
import { relMaxDiff } from '../../helpers/shared.ts';

/** Not the fixture's shape anywhere: width 96, 3 heads, 6 blocks, 4 taps, 2+2 groups, 4 decoder blocks, no registers. */
const CFG: InpFormerConfig = {
  architecture: 'inp-former',
  encoder: { kind: 'dinov2', embedDim: 96, depth: 6, numHeads: 3, patchSize: 14, registerTokens: 0, posGridSize: 5, mlpRatio: 4, lnEps: 1e-6, interpolateOffset: 0.1 },
  embedDim: 96, numHeads: 3, inpCount: 4, decoderDepth: 4, targetLayers: [1, 2, 3, 4],
  fuseEncoder: [[0, 1], [2, 3]], fuseDecoder: [[0, 1], [2, 3]], mlpRatio: 4, lnEps: 1e-8,
};
const WEIGHTS = randomInpFormer(CFG, 7);
/** 3×4 patch grid: non-square, and neither side equals the stored 5×5 grid. */
const input = () => tf.randomNormal([2, 3, 42, 56], 0, 1, 'float32', 3) as tf.Tensor4D;

/** A training-style loss: reconstruction (1 − cos per group) plus the coherence term. */
function loss(head: HeadParams, layers: tf.Tensor3D[]): tf.Scalar {
  const out = headForward(head, layers, CFG);
  const rec = out.en.map((e, g) => tf.mean(tf.sub(1, cosineSimilarity(e, out.de[g], 2))));
  return tf.add(tf.addN(rec), tf.mul(tf.mean(out.distance), 0.2)) as tf.Scalar;
}

const results: Partial<Record<BackendName, { pred: PredictResult; grads: Float32Array[] }>> = {};

describe.each(['cpu', 'wasm'] as BackendName[])('INP-Former with another shape on %s', (backend) => {
  it('gives the right shapes, finite maps, and holds no tensor between predictions', async () => {
    await useBackend(backend);
    const base = tf.memory().numTensors;
    const model = createInpFormer(CFG, WEIGHTS);
    const x = input();
    const out = model.forward(x, { intermediates: true });
    const m = out.intermediates!;
    expect(out.grid).toEqual([3, 4]);
    expect(m.tokens!.shape).toEqual([2, 1 + 12, 96]);
    expect(m.layers.map((t) => t.shape)).toEqual(Array(4).fill([2, 12, 96]));
    expect(m.inp.shape).toEqual([2, 4, 96]);
    expect(m.decoder).toHaveLength(4);
    expect(out.en.map((t) => t.shape)).toEqual([[2, 12, 96], [2, 12, 96]]);
    expect(out.de.map((t) => t.shape)).toEqual([[2, 12, 96], [2, 12, 96]]);
    expect(out.distance.shape).toEqual([2, 12]);
    expect((await out.de[1].data()).every(Number.isFinite)).toBe(true);
    tf.dispose([out.en, out.de, out.distance, m.tokens, m.layers, m.fusedQuery, m.inp, m.bottleneck, m.decoder]);

    await model.predict(x, { mapSize: [30, 40] }); // caches this grid's positional table
    const before = tf.memory().numTensors;
    const pred = await model.predict(x, { mapSize: [30, 40] });
    const shown = await model.predict(x, { mapSize: [30, 40], outputSize: [61, 83] });
    const zs = await model.predict({ data: (await x.data()) as Float32Array, shape: [2, 3, 42, 56] }, { mapSize: 32, zeroShot: true });
    expect(tf.memory().numTensors).toBe(before);
    expect([pred.height, pred.width, shown.height, shown.width, zs.height, zs.width]).toEqual([30, 40, 61, 83, 32, 32]);
    for (const r of [pred, shown, zs]) {
      expect(r.maps).toHaveLength(2);
      expect(r.maps.every((mp) => mp.length === r.width * r.height && mp.every(Number.isFinite))).toBe(true);
      expect(r.scores.every((s) => Number.isFinite(s) && s >= 0)).toBe(true);
    }
    // The score is taken on the scoring map, whatever size the map is shown at.
    expect(shown.scores).toEqual(pred.scores);

    // Trainer path: head params as variables, frozen encoder features as constants, gradients for every parameter.
    const { layers } = model.encode(x);
    const vars = mapParams(model.head, (t) => tf.variable(t));
    const varList = paramTensors(vars) as tf.Variable[];
    expect(varList.length).toBe(paramTensors(model.head).length);
    const { value, grads } = tf.variableGrads(() => loss(vars, layers), varList);
    expect(Number.isFinite((await value.data())[0])).toBe(true);
    const g = await Promise.all(varList.map(async (v) => (await grads[v.name].data()) as Float32Array));
    expect(g.every((a) => a.every(Number.isFinite))).toBe(true);
    expect(g.filter((a) => a.some((v) => v !== 0)).length).toBe(varList.length);
    // predict with the trainer's head gives what the loaded head gives while they are equal.
    expect((await model.predict(x, { mapSize: [30, 40], head: vars })).scores).toEqual(pred.scores);
    results[backend] = { pred, grads: g };
    tf.dispose([value, ...Object.values(grads), ...layers, ...varList, x]);

    model.dispose();
    expect(tf.memory().numTensors).toBe(base);
  });
});

describe('cpu and wasm', () => {
  it('agree on maps, scores and head gradients', () => {
    const { cpu, wasm } = results;
    if (!cpu || !wasm) throw new Error('both backends must have run');
    cpu.pred.maps.forEach((mp, b) => expect(relMaxDiff(wasm.pred.maps[b], mp)).toBeLessThan(1e-4));
    cpu.grads.forEach((gr, i) => expect(relMaxDiff(wasm.grads[i], gr), `grad ${i}`).toBeLessThan(1e-3));
  });
});
