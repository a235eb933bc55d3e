import * as ortWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { matMulModel, peakSection } from '../../../bench/matmul-peak.ts';
import { ORT_WEB_WASM, ortMatMul, peakOf, rateCells, timeRuns, type Ort } from '../../../bench/measure.ts';
import { loadOnnxRuntime } from '../../../src/platform/node/onnx-runtime.ts';
import { maxAbsDiff } from '../../helpers/shared.ts';

/** bench:speed's matMul peak: the one-MatMul graph computes A·B on both onnxruntimes, and the timing helpers count right. */
const loaded = await loadOnnxRuntime();
const N = 5;
const a = Float32Array.from({ length: N * N }, (_, i) => Math.sin(i));
const b = Float32Array.from({ length: N * N }, (_, i) => Math.cos(3 * i));
const product = Float64Array.from({ length: N * N }, (_, k) => {
  const [r, c] = [Math.floor(k / N), k % N];
  let s = 0;
  for (let j = 0; j < N; j++) s += a[r * N + j] * b[j * N + c];
  return s;
});

async function multiply(ort: Ort, options: Parameters<Ort['InferenceSession']['create']>[1]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(matMulModel(N), options);
  try {
    const out = await session.run({ a: new ort.Tensor('float32', a, [N, N]), b: new ort.Tensor('float32', b, [N, N]) });
    expect(out.c.dims).toEqual([N, N]);
    return out.c.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('matMul peak', () => {
  it.skipIf(!loaded.ok)('matMulModel is A·B on onnxruntime-node', async () => {
    if (!loaded.ok) return;
    expect(maxAbsDiff(await multiply(loaded.ort, { intraOpNumThreads: 1 }), product)).toBeLessThan(1e-5);
  });

  it('matMulModel is A·B on onnxruntime-web wasm in Node, and ortMatMul reports 2n³ FLOP over its fastest run', async () => {
    ortWeb.env.wasm.numThreads = 1;
    expect(maxAbsDiff(await multiply(ortWeb, ORT_WEB_WASM), product)).toBeLessThan(1e-5);
    const run = await ortMatMul(ortWeb, ORT_WEB_WASM, matMulModel(64), 64, 2);
    expect(run.n).toBe(64);
    expect(run.gflops).toBeCloseTo((2 * 64 ** 3) / (run.ms * 1e6), 10);
  });

  it('timeRuns warms up once, then times reps calls per item; rate cells and peak', async () => {
    let calls = 0;
    const { med, min } = await timeRuns(3, () => { calls++; }, 4);
    expect(calls).toBe(4);
    expect(min).toBeLessThanOrEqual(med);
    await expect(timeRuns(0, () => undefined)).rejects.toThrow(/reps: 0 is not a positive count/);
    expect(rateCells(2, 100, 40)).toBe('20.0 | 50 %');
    expect(peakOf([{ n: 1, ms: 1, gflops: 3 }, { n: 2, ms: 1, gflops: 5 }])).toBe(5);
    expect(peakSection(['| x | 1024 | 1.0 | 2.0 |'], 3, 'cmd')).toMatch(/^Command: `cmd` .* fastest of 3 .*\n\n\| runtime \| n \| ms \(min\) \| GFLOP\/s \|\n\|---\|---\|---\|---\|\n\| x \| 1024/);
  });
});
