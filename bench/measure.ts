/**
 * Timing and rate cells shared by every bench:speed row, in Node and in the browser pages (so: no Node imports,
 * and no tfjs: the onnxruntime-web page does not load it).
 */

/** Median and fastest of `reps` timed calls after one warm-up (kernels, sessions, caches); `per` divides each time (ms per image of a batch). */
export async function timeRuns(reps: number, fn: () => unknown, per = 1): Promise<{ med: number; min: number }> {
  if (!(reps >= 1)) throw new RangeError(`reps: ${reps} is not a positive count`);
  await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / per);
  }
  times.sort((a, b) => a - b);
  return { med: times[Math.floor(times.length / 2)], min: times[0] };
}

/** "1 thread", "2 threads": the thread count a row states. */
export const threadsLabel = (n: number): string => `${n} thread${n === 1 ? '' : 's'}`;

/** [B, 3, S, S] of deterministic values, the input of every ONNX row. */
export function benchBatch(B: number, S: number): { data: Float32Array; shape: [number, number, number, number] } {
  return { data: Float32Array.from({ length: B * 3 * S * S }, (_, i) => Math.sin(i * 0.37)), shape: [B, 3, S, S] };
}

/** One square float32 MatMul size on one runtime: its fastest run. */
export interface MatMulRun { n: number; ms: number; gflops: number }

/** A runtime's matMul peak: the best GFLOP/s over the sizes measured. */
export const peakOf = (runs: readonly MatMulRun[]): number => Math.max(...runs.map((r) => r.gflops));

/** n×n · n×n in `ms`: 2n³ FLOP. */
export const matMulRun = (n: number, ms: number): MatMulRun => ({ n, ms, gflops: (2 * n ** 3) / (ms * 1e6) });

/** The InferenceSession/Tensor API onnxruntime-node and onnxruntime-web share (both re-export onnxruntime-common). */
export type Ort = Pick<typeof import('onnxruntime-web'), 'InferenceSession' | 'Tensor'>;

/** onnxruntime-web session options of every wasm row and peak, as src/platform/web-onnx.ts creates its sessions. */
export const ORT_WEB_WASM = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' } as const;

/** `model`, one MatMul a [n, n] · b [n, n] → c (bench/matmul-peak.ts), on an onnxruntime session made with `options` (the speed rows' own). */
export async function ortMatMul(ort: Ort, options: Parameters<Ort['InferenceSession']['create']>[1], model: Uint8Array, n: number, reps: number): Promise<MatMulRun> {
  const session = await ort.InferenceSession.create(model, options);
  try {
    const feeds = {
      a: new ort.Tensor('float32', Float32Array.from({ length: n * n }, (_, i) => Math.sin(i)), [n, n]),
      b: new ort.Tensor('float32', Float32Array.from({ length: n * n }, (_, i) => Math.cos(i)), [n, n]),
    };
    const { min } = await timeRuns(reps, () => session.run(feeds));
    return matMulRun(n, min);
  } finally {
    await session.release();
  }
}

/** "GFLOP/s | % of matMul peak" cells of a row that did `gflop` in `ms`, on a runtime whose matMul peak is `peak` GFLOP/s. */
export function rateCells(gflop: number, ms: number, peak: number): string {
  const rate = gflop / (ms / 1000);
  return `${rate.toFixed(1)} | ${((100 * rate) / peak).toFixed(0)} %`;
}
