/**
 * npm run bench:gelu — why a training step's time drifts: tfjs-wasm's erf (inside the exact GELU of every MLP, and
 * exp(−x²) in its gradient) costs more as its inputs spread, and the MLPs' pre-activations spread as training goes
 * on. Times GELU forward and forward+backward on 784·8 × 512 values (one decoder MLP's hidden layer for a step of 8
 * images at 28×28 tokens) drawn N(0, σ²) for several σ; median of 9 after 2 warm-ups, one thread.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/runtime/backend.ts';
import { gelu } from '../src/runtime/ops.ts';

await useBackend('wasm');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(f: () => tf.Tensor): Promise<number> {
  for (let i = 0; i < 2; i++) { const y = f(); await y.data(); y.dispose(); }
  const ts: number[] = [];
  for (let i = 0; i < 9; i++) { const t0 = performance.now(); const y = f(); await y.data(); y.dispose(); ts.push(performance.now() - t0); }
  return median(ts);
}
console.log(`load average ${os.loadavg()[0].toFixed(1)}; ${os.cpus()[0]?.model.trim()}`);
console.log('| σ of the inputs | GELU forward (ms) | GELU forward + backward (ms) |');
console.log('|---|---|---|');
for (const sigma of [0.5, 1, 2, 4, 8]) {
  const x = tf.mul(tf.randomNormal([784 * 8, 512], 0, 1, 'float32', 1), sigma);
  const fwd = await time(() => gelu(x));
  const both = await time(() => tf.grad((v: tf.Tensor) => tf.sum(gelu(v)))(x));
  console.log(`| ${sigma} | ${fwd.toFixed(0)} | ${both.toFixed(0)} |`);
  x.dispose();
}
