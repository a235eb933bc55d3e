import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readPth } from '../../src/checkpoint/pth.ts';
import { createResNet, type ResNetStage } from '../../src/encoder/resnet.ts';
import { useBackend, type BackendName } from '../../src/runtime/backend.ts';
import { fixture, HAS_FIXTURES, loadFixtureTensors, relMaxDiff, skipReason } from '../helpers/shared.ts';

const nhwcToNchw = async (t: tf.Tensor4D) => { const r = t.transpose([0, 3, 1, 2]); const d = await r.data(); r.dispose(); return d as Float32Array; };

describe.skipIf(!HAS_FIXTURES)(`torchvision ResNet-18 reproduces fixtures/resnet18${HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`}`, () => {
  for (const backend of ['cpu', 'wasm'] as BackendName[]) {
    it(`layer1/2/3 on ${backend}; layer4 reported unusable`, async () => {
      await useBackend(backend);
      const file = fixture('resnet18', 'resnet18-imagenet-l3.pth');
      const net = createResNet('resnet18', readPth(new Uint8Array(readFileSync(file)), file), file);
      expect(net.stages).toEqual(['layer1', 'layer2', 'layer3']);
      const ref = loadFixtureTensors('resnet18', 'input_and_features.safetensors');
      const inp = ref.get('input')!;
      const x = tf.tensor4d(inp.data as Float32Array, inp.shape as [number, number, number, number]);
      const before = tf.memory().numTensors;
      const out = net.forward(x, ['layer1', 'layer2', 'layer3']);
      for (const s of ['layer1', 'layer2', 'layer3'] as ResNetStage[]) {
        expect(relMaxDiff(await nhwcToNchw(out.get(s)!), ref.get(s)!.data as Float32Array), s).toBeLessThan(1e-5);
      }
      tf.dispose([...out.values()]);
      expect(tf.memory().numTensors).toBe(before);
      expect(() => net.forward(x, ['layer4'])).toThrow(/layer4 is not usable: missing layer4\.0\.conv1\.weight/);
      x.dispose();
      net.dispose();
    });
  }
});
