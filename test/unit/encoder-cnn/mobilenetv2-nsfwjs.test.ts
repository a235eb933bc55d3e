import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNsfwjsMobileNetV2, type MobileNetV2Stage } from '../../../src/encoder/mobilenetv2-nsfwjs.ts';
import { readNsfwjsBundle } from '../../../src/platform/node/nsfwjs.ts';
import { loadNsfwjsBundle, nsfwjsTensors, type NsfwjsBundle } from '../../../src/encoder/nsfwjs-weights.ts';
import { CheckpointError } from '../../../src/errors.ts';
import { useBackend, type BackendName } from '../../../src/runtime/backend.ts';
import type { TensorMap } from '../../../src/types.ts';
import { relMaxDiff } from '../../helpers/shared.ts';

/** Keras layer whose output is each stage's output: the residual Add where there is one. */
const KERAS_OUTPUT: Partial<Record<MobileNetV2Stage, string>> = {
  block_1: 'block_1_project_BN', block_2: 'block_2_add', block_5: 'block_5_add', block_9: 'block_9_add', block_10: 'block_10_project_BN',
};
const SHAPES: Partial<Record<MobileNetV2Stage, number[]>> = {
  block_1: [2, 56, 56, 24], block_2: [2, 56, 56, 24], block_5: [2, 28, 28, 32], block_9: [2, 14, 14, 64], block_10: [2, 14, 14, 96],
};

describe('nsfwjs MobileNetV2 (installed npm package) rebuilt in tfjs ops', () => {
  let bundle: NsfwjsBundle;
  let weights: TensorMap;
  beforeAll(async () => {
    bundle = await readNsfwjsBundle();
    weights = nsfwjsTensors(bundle, 'nsfwjs mobilenet_v2');
  });

  it('parses the bundles without evaluating them: 266 uint8 tensors, 2,619,461 bytes', () => {
    expect(bundle.weightSpecs).toHaveLength(266);
    expect(bundle.weightData.length).toBe(2619461);
    expect(weights.get('block_10_project/kernel')!.shape).toEqual([1, 1, 384, 96]);
    expect((bundle.modelTopology as { keras_version: string }).keras_version).toBe('2.2.4');
  });

  for (const backend of ['wasm', 'cpu'] as BackendName[]) {
    it(`equals nsfwjs's own tf.LayersModel at blocks 1, 2, 5, 9, 10 within 1e-4 × absmax on ${backend}`, async () => {
      await useBackend(backend);
      const artifacts: tf.io.ModelArtifacts = { modelTopology: bundle.modelTopology, weightSpecs: bundle.weightSpecs as tf.io.WeightsManifestEntry[], weightData: bundle.weightData.slice().buffer };
      const keras = await tf.loadLayersModel({ load: async () => artifacts });
      // Same dequantised values as tfjs's own decoder, bit for bit.
      const k = keras.getLayer('block_5_expand').getWeights()[0];
      expect(Array.from(await k.data())).toEqual(Array.from(weights.get('block_5_expand/kernel')!.data as Float32Array));
      const stages = Object.keys(KERAS_OUTPUT) as MobileNetV2Stage[];
      const sub = tf.model({ inputs: keras.inputs, outputs: stages.map((s) => keras.getLayer(KERAS_OUTPUT[s]!).output as tf.SymbolicTensor) });

      const before = tf.memory().numTensors;
      const net = createNsfwjsMobileNetV2(weights, 'nsfwjs');
      const x = tf.randomUniform([2, 3, 224, 224], 0, 1, 'float32', 5) as tf.Tensor4D;
      const ours = net.forward(x, stages);
      const xh = tf.transpose(x, [0, 2, 3, 1]);
      const ref = sub.predict(xh) as tf.Tensor[];
      for (const [i, s] of stages.entries()) {
        expect(ours.get(s)!.shape, s).toEqual(SHAPES[s]);
        expect(relMaxDiff(await ours.get(s)!.data(), await ref[i].data()), s).toBeLessThan(1e-4);
      }
      tf.dispose([x, xh, ...ref, ...ours.values()]);
      expect(() => net.forward(x, ['block_11' as MobileNetV2Stage])).toThrow(/later blocks are not ImageNet weights/);
      net.dispose();
      expect(tf.memory().numTensors).toBe(before);
      keras.dispose();
    });
  }

  it('refuses bundles that are not data, and weights that do not fit', async () => {
    const where = 'model.min.js';
    await expect(loadNsfwjsBundle('console.log(1)', () => '', where)).rejects.toThrow(/model\.min\.js: not an nsfwjs model bundle/);
    await expect(loadNsfwjsBundle('{1:[function(e,a,n){a.exports=foo()}', () => '', where)).rejects.toThrow(CheckpointError);
    const model = '{1:[function(e,a,n){a.exports={modelTopology:{a:!0},weightsManifest:[{paths:["s1"],weights:[{name:"k",shape:[2,2],dtype:"float32",quantization:{min:-1,scale:.5,dtype:"uint8"}}]}]}}';
    const ok = await loadNsfwjsBundle(model, (f) => (f === 's1.min.js' ? `{1:[function(e,h,n){h.exports="${btoa('\x00\x01\x02\x04')}"}` : ''), where);
    expect(Array.from(nsfwjsTensors(ok, where).get("k")!.data as Float32Array)).toEqual([-1, -0.5, 0, 1]);
    const short = await loadNsfwjsBundle(model, () => `{1:[function(e,h,n){h.exports="${btoa('\x00')}"}`, where);
    expect(() => nsfwjsTensors(short, where)).toThrow(/model\.min\.js: k: the shards end at byte 1, before this tensor's 4 bytes/);
    const partial = new Map(weights);
    partial.delete('block_3_depthwise_BN/moving_variance');
    expect(() => createNsfwjsMobileNetV2(partial, 'x.min.js')).toThrow(/x\.min\.js: not an nsfwjs MobileNetV2: missing block_3_depthwise_BN\/moving_variance/);
  });
});
