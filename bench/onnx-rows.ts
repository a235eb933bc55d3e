import os from 'node:os';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { loadOnnxRuntime } from '../src/platform/node/onnx-runtime.ts';
import { createOnnxInpFormer } from '../src/platform/node/onnx-session.ts';
import { matMulModel, PEAK_SIZES, type PeakRow } from './matmul-peak.ts';
import { benchBatch, ortMatMul, peakOf, rateCells, threadsLabel, timeRuns } from './measure.ts';
import { inpFormerGflop } from './onnx-flops.ts';

/** The official model's ONNX export on onnxruntime-node 1.30, same machine (issue 10, runtime.md §9), batch 1. */
export const OFFICIAL_ONNX_MS: Record<string, number> = { 'small:224': 72, 'small:392': 219, 'base:224': 226, 'base:392': 728 };

const ONNX_TABLE_HEADER = ['| runtime | model | input | batch | ms / image (median) | min | GFLOP/s | % of matMul peak |', '|---|---|---|---|---|---|---|---|'];

/** BENCHMARKS.md's `speed-onnx` section around `rows`, naming the `command` that produced them. */
export function onnxSection(rows: string[], reps: number, command: string): string {
  const official = Object.entries(OFFICIAL_ONNX_MS).map(([k, ms]) => `ViT-${k[0].toUpperCase()} ${k.split(':')[1]} ${ms} ms`).join(', ');
  return [
    `Command: \`${command}\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}) · random weights, median and min of ${reps} after a warm-up, ms per image, whole model incl. the 256×256 map chain and the zero-shot branch; onnxruntime-web at batch 1; "% of matMul peak" against the same runtime's peak in speed-peak. Target: no slower than 1.1× the official model's ONNX on the same runtime (batch 1: ${official}).`,
    '',
    ...ONNX_TABLE_HEADER,
    ...rows,
  ].join('\n');
}

/** createOnnxInpFormer's default (src/onnx/session-node.ts), passed explicitly so the rows' label stays true. */
const THREADS = os.availableParallelism();
const runtime = (version: string) => `onnxruntime-node ${version} (CPU, ${threadsLabel(THREADS)})`;

/** onnxruntime-node's matMul peak at `sizes`, with the rows' session options; undefined when it does not load. */
export async function ortNodePeak(reps: number, sizes = PEAK_SIZES): Promise<PeakRow | undefined> {
  const loaded = await loadOnnxRuntime();
  if (!loaded.ok) return undefined;
  const runs = [];
  for (const n of sizes) runs.push(await ortMatMul(loaded.ort, { graphOptimizationLevel: 'all', intraOpNumThreads: THREADS }, matMulModel(n), n, reps));
  return { runtime: runtime(loaded.ort.env.versions.node ?? '?'), runs };
}

/**
 * Table rows (printed as they come) of ms per image of our ONNX export of the whole INP-Former (encoder + head
 * + 256×256 map chain + zero-shot branch, random weights) on onnxruntime-node, CPU, one intra-op thread per
 * logical CPU. `peak`: this runtime's matMul GFLOP/s (ortNodePeak), measured here when not given.
 * One row saying why when onnxruntime-node does not load.
 */
export async function onnxSpeedRows(o: { sizes: Array<'small' | 'base' | 'large'>; inputs: number[]; batches: number[]; reps: number; peak?: number }): Promise<string[]> {
  const loaded = await loadOnnxRuntime();
  if (!loaded.ok) return [`| onnxruntime-node | – | – | – | not run: ${loaded.reason} | | | |`];
  const version = loaded.ort.env.versions.node ?? '?';
  const peak = o.peak ?? peakOf((await ortNodePeak(o.reps))!.runs);
  const rows: string[] = [];
  for (const size of o.sizes) {
    const cfg = dinov2InpFormerConfig(size);
    const model = await createOnnxInpFormer(cfg, randomInpFormer(cfg, 1), { maxSessions: o.inputs.length, threads: THREADS });
    for (const S of o.inputs) {
      for (const B of o.batches) {
        const input = benchBatch(B, S);
        const { med, min } = await timeRuns(o.reps, () => model.predict(input, { mapSize: 256 }), B);
        const official = OFFICIAL_ONNX_MS[`${size}:${S}`];
        const vs = B === 1 && official ? ` (${(min / official).toFixed(2)}× the official export's ${official})` : '';
        const line = `| ${runtime(version)}, our export | ViT-${size[0].toUpperCase()}/14 | ${S} | ${B} | ${med.toFixed(0)} | ${min.toFixed(0)}${vs} | ${rateCells(inpFormerGflop(size, S), med, peak)} |`;
        console.log(line);
        rows.push(line);
      }
    }
    await model.dispose();
  }
  return rows;
}
