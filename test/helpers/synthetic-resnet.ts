import type { ResNetKind } from '../../src/encoder/resnet.ts';
import { seededRandom } from '../../src/inp-former/init.ts';
import type { TensorMap } from '../../src/types.ts';

/** torchvision's state-dict layout written out independently of src/encoder/resnet.ts, with random BN statistics. */
export function syntheticResNet(kind: ResNetKind, stages: number, seed: number): TensorMap {
  const rand = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const t: TensorMap = new Map();
  const put = (k: string, shape: number[], f: () => number) => t.set(k, { dtype: 'F32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, f) });
  const convBn = (conv: string, bn: string, o: number, i: number, k: number) => {
    put(`${conv}.weight`, [o, i, k, k], () => normal() * Math.sqrt(2 / (i * k * k)));
    put(`${bn}.weight`, [o], () => 0.5 + rand());
    put(`${bn}.bias`, [o], () => 0.1 * normal());
    put(`${bn}.running_mean`, [o], () => 0.1 * normal());
    put(`${bn}.running_var`, [o], () => 0.5 + rand());
    t.set(`${bn}.num_batches_tracked`, { dtype: 'I64', shape: [], data: new BigInt64Array(1) });
  };
  const basic = kind === 'resnet18';
  const counts = basic ? [2, 2, 2, 2] : [3, 4, 6, 3];
  convBn('conv1', 'bn1', 64, 3, 7);
  let inplanes = 64;
  for (let s = 0; s < stages; s++) {
    const planes = 64 * 2 ** s;
    const width = kind === 'wide_resnet50_2' ? planes * 2 : planes;
    const out = basic ? planes : planes * 4;
    for (let b = 0; b < counts[s]; b++) {
      const p = `layer${s + 1}.${b}`;
      if (basic) {
        convBn(`${p}.conv1`, `${p}.bn1`, planes, inplanes, 3);
        convBn(`${p}.conv2`, `${p}.bn2`, planes, planes, 3);
      } else {
        convBn(`${p}.conv1`, `${p}.bn1`, width, inplanes, 1);
        convBn(`${p}.conv2`, `${p}.bn2`, width, width, 3);
        convBn(`${p}.conv3`, `${p}.bn3`, out, width, 1);
      }
      if (b === 0 && (s > 0 || inplanes !== out)) convBn(`${p}.downsample.0`, `${p}.downsample.1`, out, inplanes, 1);
      inplanes = out;
    }
  }
  return t;
}

/** Unfolded reference: conv (OIHW transposed by tf) then tf.batchNorm, max-pool padded with −∞ as PyTorch does. */
