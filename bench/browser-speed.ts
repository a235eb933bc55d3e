/** Browser half of bench:speed: ?backend=wasm|webgpu&sizes=small,base&inputs=224,392&reps=3 → window.__bench. */
import * as tf from '@tensorflow/tfjs';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { createInpFormer } from '../src/inp-former/predict.ts';
import { useBackend, type BackendName } from '../src/runtime/backend.ts';
import { configureWebWasm } from '../src/platform/web-wasm.ts';

const q = new URLSearchParams(location.search);
const backend = (q.get('backend') ?? 'wasm') as BackendName;
const sizes = (q.get('sizes') ?? 'small').split(',') as Array<'small' | 'base'>;
const inputs = (q.get('inputs') ?? '224').split(',').map(Number);
const reps = Number(q.get('reps') ?? 3);
const out = document.getElementById('out')!;
const w = window as unknown as { __bench?: unknown; __benchError?: string };

try {
  await configureWebWasm();
  await useBackend(backend);
  const results: Array<{ size: string; input: number; ms: number[] }> = [];
  for (const size of sizes) {
    const cfg = dinov2InpFormerConfig(size);
    const model = createInpFormer(cfg, randomInpFormer(cfg, 1));
    for (const S of inputs) {
      const x = tf.randomNormal([1, 3, S, S], 0, 1, 'float32', 1) as tf.Tensor4D;
      await model.predict(x, { mapSize: 256 });
      const ms: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        await model.predict(x, { mapSize: 256 });
        ms.push(performance.now() - t0);
      }
      x.dispose();
      results.push({ size, input: S, ms });
      out.textContent = JSON.stringify(results, null, 1);
    }
    model.dispose();
  }
  w.__bench = { backend: tf.getBackend(), results };
} catch (e) {
  w.__benchError = String((e as Error)?.stack ?? e);
  out.textContent = w.__benchError;
}
