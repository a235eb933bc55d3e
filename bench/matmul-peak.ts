import os from 'node:os';
import { GraphBuilder } from '../src/onnx/graph.ts';
import { DataType, encodeModel } from '../src/onnx/proto.ts';
import type { MatMulRun } from './measure.ts';

/**
 * The machine's measured matMul peak per runtime (bench:speed's `speed-peak` section): what a speed row's
 * GFLOP/s is compared with, so a reader sees whether a runtime is slow on this box or slow on our model.
 */

/** Square sizes the peak is measured at by default: past the caches, and short enough for a 1-thread wasm run. */
export const PEAK_SIZES = [1024, 2048];

/** One MatMul node, a [n, n] · b [n, n] → c, built with the exporter's own graph builder. */
export function matMulModel(n: number): Uint8Array {
  const b = new GraphBuilder();
  b.node('MatMul', ['a', 'b'], {}, ['c']);
  const io = (name: string) => ({ name, type: DataType.FLOAT, dims: [n, n] });
  return encodeModel(b.build({ name: `matmul-${n}`, inputs: [io('a'), io('b')], outputs: [io('c')] }));
}

/** One runtime's peak measurements, under the name its speed rows give it (threads included). */
export interface PeakRow { runtime: string; runs: MatMulRun[] }

/** Table lines of `row` (printed as they come and kept for the section). */
export function peakLines(row: PeakRow): string[] {
  return row.runs.map((r) => `| ${row.runtime} | ${r.n} | ${r.ms.toFixed(1)} | ${r.gflops.toFixed(1)} |`);
}

/** The peak table: header and `lines`. */
export function peakTable(lines: string[]): string {
  return ['| runtime | n | ms (min) | GFLOP/s |', '|---|---|---|---|', ...lines].join('\n');
}

/** BENCHMARKS.md's `speed-peak` section around `lines`, naming the `command` that produced them. */
export function peakSection(lines: string[], reps: number, command: string): string {
  return [
    `Command: \`${command}\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}) · float32 n×n · n×n MatMul (2n³ FLOP), fastest of ${reps} after a warm-up (WebGPU: 1), in the same run as the speed tables, each runtime just before its rows. A runtime's peak is its best GFLOP/s here; the speed tables' "% of matMul peak" divides a row's GFLOP/s by it.`,
    '',
    peakTable(lines),
  ].join('\n');
}
