import os from 'node:os';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { loadOnnxRuntime } from '../src/onnx/runtime-node.ts';
import { createOnnxInpFormer } from '../src/onnx/session-node.ts';
import { inpFormerGflop } from './onnx-flops.ts';

/** The official model's ONNX export on onnxruntime-node 1.30, same machine (issue 10, runtime.md §9), batch 1. */
export const OFFICIAL_ONNX_MS: Record<string, number> = { 'small:224': 72, 'small:392': 219, 'base:224': 226, 'base:392': 728 };

const ONNX_TABLE_HEADER = ['| runtime | model | input | batch | ms / image (median) | min | GFLOP/s |', '|---|---|---|---|---|---|---|'];

/** BENCHMARKS.md's `speed-onnx` section around `rows`, naming the `command` that produced them. */
export function onnxSection(rows: string[], reps: number, command: string): string {
  const official = Object.entries(OFFICIAL_ONNX_MS).map(([k, ms]) => `ViT-${k[0].toUpperCase()} ${k.split(':')[1]} ${ms} ms`).join(', ');
  return [
    `Command: \`${command}\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}) · random weights, median and min of ${reps} after a warm-up, ms per image, whole model incl. the 256×256 map chain and the zero-shot branch. Target: no slower than 1.1× the official model's ONNX on the same runtime (batch 1: ${official}).`,
    '',
    ...ONNX_TABLE_HEADER,
    ...rows,
  ].join('\n');
}

/**
 * Table rows (printed as they come) of ms per image of our ONNX export of the whole INP-Former (encoder + head
 * + 256×256 map chain + zero-shot branch, random weights) on onnxruntime-node, CPU, one intra-op thread per logical CPU (our session default).
 * One row saying why when onnxruntime-node does not load.
 */
export async function onnxSpeedRows(o: { sizes: Array<'small' | 'base' | 'large'>; inputs: number[]; batches: number[]; reps: number }): Promise<string[]> {
  const loaded = await loadOnnxRuntime();
  if (!loaded.ok) return [`| onnxruntime-node | – | – | – | not run: ${loaded.reason} | | |`];
  const version = loaded.ort.env.versions.node ?? '?';
  const rows: string[] = [];
  for (const size of o.sizes) {
    const cfg = dinov2InpFormerConfig(size);
    const model = await createOnnxInpFormer(cfg, randomInpFormer(cfg, 1), { maxSessions: o.inputs.length });
    for (const S of o.inputs) {
      for (const B of o.batches) {
        const input = { data: Float32Array.from({ length: B * 3 * S * S }, (_, i) => Math.sin(i * 0.37)), shape: [B, 3, S, S] as [number, number, number, number] };
        await model.predict(input, { mapSize: 256 }); // warm-up: export, session, first run
        const times: number[] = [];
        for (let i = 0; i < o.reps; i++) {
          const t0 = performance.now();
          await model.predict(input, { mapSize: 256 });
          times.push((performance.now() - t0) / B);
        }
        times.sort((a, b) => a - b);
        const med = times[Math.floor(times.length / 2)];
        const official = OFFICIAL_ONNX_MS[`${size}:${S}`];
        const vs = B === 1 && official ? ` (${(times[0] / official).toFixed(2)}× the official export's ${official})` : '';
        const line = `| onnxruntime-node ${version} (CPU), our export | ViT-${size[0].toUpperCase()}/14 | ${S} | ${B} | ${med.toFixed(0)} | ${times[0].toFixed(0)}${vs} | ${(inpFormerGflop(size, S) / (med / 1000)).toFixed(1)} |`;
        console.log(line);
        rows.push(line);
      }
    }
    await model.dispose();
  }
  return rows;
}
