/**
 * Browser half of bench:speed: ?backend=wasm|webgpu&sizes=small,base&inputs=224,392&reps=3&peak=1024,2048 →
 * window.__bench: ms per image of each model (median, min) and the backend's tf.matMul peak at each `peak` size.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { createInpFormer } from '../src/inp-former/predict.ts';
import { useBackend, type BackendName } from '../src/runtime/backend.ts';
import { configureWebWasm } from '../src/platform/web/wasm.ts';
import { timeRuns, type MatMulRun } from './measure.ts';
import { tfjsMatMul } from './tfjs-matmul.ts';

const q = new URLSearchParams(location.search);
const backend = (q.get('backend') ?? 'wasm') as BackendName;
const sizes = (q.get('sizes') ?? 'small').split(',') as Array<'small' | 'base'>;
const inputs = (q.get('inputs') ?? '224').split(',').map(Number);
const reps = Number(q.get('reps') ?? 3);
const peakSizes = (q.get('peak') ?? '').split(',').filter(Boolean).map(Number);
const out = document.getElementById('out')!;
const w = window as unknown as { __bench?: unknown; __benchError?: string };

try {
  await configureWebWasm();
  await useBackend(backend);
  const peak: MatMulRun[] = [];
  for (const n of peakSizes) peak.push(await tfjsMatMul(n, reps));
  const results: Array<{ size: string; input: number; med: number; min: number }> = [];
  for (const size of sizes) {
    const cfg = dinov2InpFormerConfig(size);
    const model = createInpFormer(cfg, randomInpFormer(cfg, 1));
    for (const S of inputs) {
      const x = tf.randomNormal([1, 3, S, S], 0, 1, 'float32', 1) as tf.Tensor4D;
      results.push({ size, input: S, ...await timeRuns(reps, () => model.predict(x, { mapSize: 256 })) });
      x.dispose();
      out.textContent = JSON.stringify(results, null, 1);
    }
    model.dispose();
  }
  w.__bench = { backend: tf.getBackend(), threads: backend === 'wasm' ? getThreadsCount() : undefined, peak, results };
} catch (e) {
  w.__benchError = String((e as Error)?.stack ?? e);
  out.textContent = w.__benchError;
}
