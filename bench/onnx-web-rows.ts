import * as ort from 'onnxruntime-web';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { exportInpFormerOnnx, ONNX_IO } from '../src/onnx/export-inp-former.ts';
import { matMulModel, PEAK_SIZES, type PeakRow } from './matmul-peak.ts';
import { benchBatch, ORT_WEB_WASM, ortMatMul, rateCells, threadsLabel, timeRuns } from './measure.ts';
import { inpFormerGflop } from './onnx-flops.ts';

/**
 * onnxruntime-web's wasm backend in Node (its Node build loads dist/ort-wasm-simd-threaded.wasm itself; threads
 * are worker_threads): the same exported graphs as bench/onnx-rows.ts, batch 1, and its matMul peak.
 */

/**
 * onnxruntime-web with `threads` wasm threads, as the rows name it: call it once, before any session (the first
 * one fixes the count for the process).
 */
export function ortWebNode(threads: number): string {
  ort.env.wasm.numThreads = threads;
  return `onnxruntime-web ${ort.env.versions.web} wasm (Node ${process.version}, ${threadsLabel(threads)})`;
}

/** onnxruntime-web's matMul peak at `sizes`, under the `runtime` name ortWebNode gave. */
export async function ortWebPeak(runtime: string, reps: number, sizes = PEAK_SIZES): Promise<PeakRow> {
  const runs = [];
  for (const n of sizes) runs.push(await ortMatMul(ort, ORT_WEB_WASM, matMulModel(n), n, reps));
  return { runtime, runs };
}

/**
 * Table rows (printed as they come; the speed-onnx table's columns) of ms per image of our export of the whole
 * INP-Former (random weights, 256×256 map) on onnxruntime-web wasm in Node, batch 1; `peak` is this runtime's
 * matMul GFLOP/s.
 */
export async function onnxWebSpeedRows(o: { runtime: string; sizes: Array<'small' | 'base' | 'large'>; inputs: number[]; reps: number; peak: number }): Promise<string[]> {
  const rows: string[] = [];
  for (const size of o.sizes) {
    const cfg = dinov2InpFormerConfig(size);
    const tensors = randomInpFormer(cfg, 1);
    for (const S of o.inputs) {
      const session = await ort.InferenceSession.create(exportInpFormerOnnx(cfg, tensors, { inputSize: [S, S], mapSize: [256, 256] }, `random ViT-${size}`), ORT_WEB_WASM);
      try {
        const { data, shape } = benchBatch(1, S);
        const feeds = { [ONNX_IO.input]: new ort.Tensor('float32', data, shape) };
        const { med, min } = await timeRuns(o.reps, () => session.run(feeds, [ONNX_IO.map, ONNX_IO.score]));
        const line = `| ${o.runtime}, our export | ViT-${size[0].toUpperCase()}/14 | ${S} | 1 | ${med.toFixed(0)} | ${min.toFixed(0)} | ${rateCells(inpFormerGflop(size, S), med, o.peak)} |`;
        console.log(line);
        rows.push(line);
      } finally {
        await session.release();
      }
    }
  }
  return rows;
}
