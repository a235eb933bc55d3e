import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createResNet, resnetStages, type ResNetKind, type ResNetStage } from '../../../src/encoder/resnet.ts';
import { CheckpointError } from '../../../src/errors.ts';
import { useBackend, type BackendName } from '../../../src/runtime/backend.ts';
import type { TensorMap } from '../../../src/types.ts';
import { readResNetByIndex } from '../../helpers/pth-index-resnet.ts';
import { syntheticResNet } from '../../helpers/synthetic-resnet.ts';
import { fixture, HAS_FIXTURES, loadFixtureTensors, relMaxDiff, skipReason } from '../../helpers/shared.ts';

const nchw = async (t: tf.Tensor4D) => { const r = tf.transpose(t, [0, 3, 1, 2]); const d = await r.data(); r.dispose(); return d as Float32Array; };

describe.skipIf(!HAS_FIXTURES)(`ResNet-18 reproduces fixtures/resnet18${HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`}`, () => {
  const file = fixture('resnet18', 'resnet18-imagenet-l3.pth');
  for (const backend of ['cpu', 'wasm'] as BackendName[]) {
    it(`layer1/2/3 within 1e-5 × absmax on ${backend}; layer4 is a CheckpointError naming its convs`, async () => {
      await useBackend(backend);
      const weights = readResNetByIndex(file);
      const { usable, missing } = resnetStages('resnet18', weights);
      expect(usable).toEqual(['layer1', 'layer2', 'layer3']);
      expect(missing.get('layer4')).toEqual(['layer4.0.conv1.weight', 'layer4.0.conv2.weight', 'layer4.1.conv1.weight', 'layer4.1.conv2.weight']);
      const before = tf.memory().numTensors;
      const net = createResNet('resnet18', weights, file);
      const ref = loadFixtureTensors('resnet18', 'input_and_features.safetensors');
      const inp = ref.get('input')!;
      const x = tf.tensor4d(inp.data as Float32Array, inp.shape as [number, number, number, number]);
      const during = tf.memory().numTensors;
      const out = net.forward(x, ['layer1', 'layer2', 'layer3']);
      for (const s of ['layer1', 'layer2', 'layer3'] as ResNetStage[]) {
        expect(out.get(s)!.shape).toEqual([1, ...ref.get(s)!.shape.slice(2), ref.get(s)!.shape[1]]);
        expect(relMaxDiff(await nchw(out.get(s)!), ref.get(s)!.data as Float32Array), s).toBeLessThan(1e-5);
      }
      tf.dispose([...out.values()]);
      expect(tf.memory().numTensors).toBe(during);
      expect(() => net.forward(x, ['layer4'])).toThrow(CheckpointError);
      expect(() => net.forward(x, ['layer4'])).toThrow(/layer4 is not usable: missing layer4\.0\.conv1\.weight, layer4\.0\.conv2\.weight, layer4\.1\.conv1\.weight, layer4\.1\.conv2\.weight \(usable: layer1, layer2, layer3\)/);
      x.dispose();
      net.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

function referenceForward(kind: ResNetKind, t: TensorMap, x: tf.Tensor4D, stages: number): tf.Tensor4D[] {
  return tf.tidy(() => {
    const w = (k: string) => { const v = t.get(k)!; return tf.tensor(v.data as Float32Array, v.shape); };
    const convBn = (h: tf.Tensor4D, conv: string, bn: string, stride: number, pad: number) => {
      const f = tf.transpose(w(`${conv}.weight`), [2, 3, 1, 0]) as tf.Tensor4D;
      const c = tf.conv2d(tf.pad(h, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), f, stride, 'valid');
      return tf.batchNorm(c, w(`${bn}.running_mean`) as tf.Tensor1D, w(`${bn}.running_var`) as tf.Tensor1D, w(`${bn}.bias`) as tf.Tensor1D, w(`${bn}.weight`) as tf.Tensor1D, 1e-5);
    };
    let h = tf.relu(convBn(tf.transpose(x, [0, 2, 3, 1]), 'conv1', 'bn1', 2, 3));
    h = tf.maxPool(tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]], -Infinity), 3, 2, 'valid');
    const outs: tf.Tensor4D[] = [];
    for (let s = 0; s < stages; s++) {
      for (let b = 0; t.has(`layer${s + 1}.${b}.conv1.weight`); b++) {
        const p = `layer${s + 1}.${b}`;
        const stride = s > 0 && b === 0 ? 2 : 1;
        const id = t.has(`${p}.downsample.0.weight`) ? convBn(h, `${p}.downsample.0`, `${p}.downsample.1`, stride, 0) : h;
        let y = kind === 'resnet18'
          ? convBn(tf.relu(convBn(h, `${p}.conv1`, `${p}.bn1`, stride, 1)), `${p}.conv2`, `${p}.bn2`, 1, 1)
          : convBn(tf.relu(convBn(tf.relu(convBn(h, `${p}.conv1`, `${p}.bn1`, 1, 0)), `${p}.conv2`, `${p}.bn2`, stride, 1)), `${p}.conv3`, `${p}.bn3`, 1, 0);
        h = tf.relu(tf.add(y, id));
      }
      outs.push(h);
    }
    return outs;
  });
}

describe('ResNet loaders on synthetic torchvision weights (folded BN == conv + BN)', () => {
  const cases: Array<{ kind: ResNetKind; stages: number; channels: number[] }> = [
    { kind: 'resnet18', stages: 4, channels: [64, 128, 256, 512] },
    { kind: 'resnet50', stages: 4, channels: [256, 512, 1024, 2048] },
    // Stages 3–4 of WRN-50-2 are 60M values; two stages test the doubled bottleneck width as well.
    { kind: 'wide_resnet50_2', stages: 2, channels: [256, 512] },
  ];
  for (const { kind, stages, channels } of cases) {
    it(`${kind}: ${stages} stages on wasm, shapes and values`, async () => {
      await useBackend('wasm');
      const t = syntheticResNet(kind, stages, 7);
      const before = tf.memory().numTensors;
      const net = createResNet(kind, t, 'synthetic.pth');
      const names = (['layer1', 'layer2', 'layer3', 'layer4'] as ResNetStage[]).slice(0, stages);
      expect(net.stages).toEqual(names);
      const x = tf.randomNormal([2, 3, 64, 64], 0, 1, 'float32', 3) as tf.Tensor4D;
      const out = net.forward(x, names);
      const ref = referenceForward(kind, t, x, stages);
      for (let s = 0; s < stages; s++) {
        const got = out.get(names[s])!;
        expect(got.shape).toEqual([2, 16 >> s, 16 >> s, channels[s]]);
        expect(relMaxDiff(await got.data(), await ref[s].data()), names[s]).toBeLessThan(1e-5);
      }
      tf.dispose([x, ...out.values(), ...ref]);
      net.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('names missing, mis-shaped and non-float tensors', () => {
    const t = syntheticResNet('resnet18', 2, 1);
    const r = createResNet('resnet18', t, 'a.pth');
    expect(r.stages).toEqual(['layer1', 'layer2']);
    r.dispose();
    const noDown = new Map(t);
    noDown.delete('layer2.0.downsample.0.weight');
    expect(resnetStages('resnet18', noDown).usable).toEqual(['layer1']);
    expect(resnetStages('resnet18', noDown).missing.get('layer2')).toEqual(['layer2.0.downsample.0.weight']);
    const noStem = new Map(t);
    noStem.delete('bn1.running_var');
    expect(() => createResNet('resnet18', noStem, 'a.pth')).toThrow(/a\.pth: no usable resnet18 stage: missing bn1\.running_var/);
    const before = tf.memory().numTensors;
    // ResNet-18 weights read as a ResNet-50: no Bottleneck conv3 anywhere, so no stage is usable.
    expect(() => createResNet('resnet50', t, 'b.pth')).toThrow(/b\.pth: no usable resnet50 stage: missing layer1\.0\.conv3\.weight/);
    const wideAs50 = syntheticResNet('wide_resnet50_2', 1, 2);
    expect(() => createResNet('resnet50', wideAs50, 'b.pth')).toThrow(/b\.pth: layer1\.0\.conv1\.weight: shape \[128,64,1,1\] does not match the architecture's \[64,64,1,1\]/);
    const wrongShape = new Map(t).set('layer1.1.bn2.bias', { dtype: 'F32', shape: [65], data: new Float32Array(65) });
    expect(() => createResNet('resnet18', wrongShape, 'c.pth')).toThrow(/c\.pth: layer1\.1\.bn2\.bias: shape \[65\] does not match the architecture's \[64\]/);
    const intWeight = new Map(t).set('conv1.weight', { dtype: 'I32', shape: [64, 3, 7, 7], data: new Int32Array(64 * 147) });
    expect(() => createResNet('resnet18', intWeight, 'd.pth')).toThrow(/d\.pth: conv1\.weight: dtype I32 is not a float type/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
