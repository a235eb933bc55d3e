/**
 * npm run bench:refine-head — why the refinement head ends in a 1×1 convolution: one training step (forward,
 * backward, Adam) of the head (src/refine/head.ts) on a batch of 8 ResNet-18 layer1+2+3 residuals (28×28×449),
 * against the same head with a 3×3 last layer as im2col (pad, 9 slices, concat: tfjs-wasm has no
 * Conv2DBackpropFilter kernel). Best of 3 per variant, side by side in one process.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { REFINE_WIDTHS } from '../src/refine/config.ts';
import { initRefineTensors, refineFeatures, refineLogits, refineLoss, uploadRefine } from '../src/refine/head.ts';
import { useBackend } from '../src/runtime/backend.ts';

await useBackend('wasm');
const [B, G, C] = [8, 28, 449];
const w2 = REFINE_WIDTHS[2];
const features = tf.randomUniform([B, G, G, C], 0, 1, 'float32', 1) as tf.Tensor4D;
const targets = tf.zeros([B, 4 * G, 4 * G, 1]) as tf.Tensor4D;
const params = uploadRefine(initRefineTensors({ inputDim: C, widths: REFINE_WIDTHS }, new Float32Array(C).fill(1), 0));
const trained = Object.fromEntries(Object.entries(params).filter(([k]) => k !== 'input_scale').map(([k, v]) => [k, tf.variable(v)]));
const p = { ...params, ...trained };
const k3 = tf.variable(tf.randomNormal([9 * w2, 1], 0, 0.1, 'float32', 2));

function conv3x3Logits(): tf.Tensor4D {
  const h = refineFeatures(features, p);
  const [b, hh, ww] = h.shape;
  const padded = tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  const cols: tf.Tensor4D[] = [];
  for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) cols.push(padded.slice([0, dy, dx, 0], [b, hh, ww, w2]));
  return tf.matMul(tf.concat(cols, 3).reshape([-1, 9 * w2]), k3 as tf.Tensor2D).reshape([b, hh, ww, 1]);
}

async function best(logits: () => tf.Tensor4D, vars: tf.Variable[]): Promise<number> {
  const opt = tf.train.adam(1e-3);
  let t = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const loss = opt.minimize(() => refineLoss(logits(), targets), true, vars)!;
    await loss.data();
    loss.dispose();
    t = Math.min(t, performance.now() - t0);
  }
  opt.dispose();
  return t;
}

const shipped = await best(() => refineLogits(features, p), Object.values(trained));
const wide = await best(conv3x3Logits, [...Object.values(trained).filter((_, i, a) => a[i] !== trained['out.weight'] && a[i] !== trained['out.bias']), k3]);
console.log(`refinement head, one training step on ${B}×${G}×${G}×${C} residuals · tfjs wasm · ${os.cpus().length} cores · load ${os.loadavg()[0].toFixed(1)}`);
console.log(`  1×1 last layer (shipped): ${shipped.toFixed(0)} ms`);
console.log(`  3×3 last layer (im2col):  ${wide.toFixed(0)} ms (${(wide / shipped).toFixed(1)}× the shipped step)`);
