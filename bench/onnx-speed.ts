/**
 * ms per image of our ONNX export of the whole INP-Former (encoder + head + 256×256 map chain, random weights)
 * on onnxruntime-node (CPU, its default threads), batch 1 and batch 8. Writes its table into BENCHMARKS.md
 * between <!-- speed-onnx --> markers unless --no-write.
 * Run: npx tsx bench/onnx-speed.ts [--sizes small,base] [--inputs 224,392] [--batches 1,8] [--reps 5] [--no-write]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { loadOnnxRuntime } from '../src/onnx/runtime-node.ts';
import { createOnnxInpFormer } from '../src/onnx/session-node.ts';
import { inpFormerGflop } from './onnx-flops.ts';
import { replaceSection } from './report.ts';

const { values } = parseArgs({ options: {
  sizes: { type: 'string', default: 'small,base' }, inputs: { type: 'string', default: '224,392' },
  batches: { type: 'string', default: '1,8' }, reps: { type: 'string', default: '5' }, 'no-write': { type: 'boolean' },
} });
const sizes = values.sizes!.split(',') as Array<'small' | 'base' | 'large'>;
const inputs = values.inputs!.split(',').map(Number);
const batches = values.batches!.split(',').map(Number);
const reps = Number(values.reps);

/** The official model's ONNX export on onnxruntime-node 1.30, same machine (issue 10, runtime.md §9), batch 1. */
const OFFICIAL: Record<string, number> = { 'small:224': 72, 'small:392': 219, 'base:224': 226, 'base:392': 728 };

const loaded = await loadOnnxRuntime();
if (!loaded.ok) throw new Error(loaded.reason);
const version = loaded.ort.env.versions.node ?? '?';
const rows: string[] = [];
for (const size of sizes) {
  const cfg = dinov2InpFormerConfig(size);
  const model = await createOnnxInpFormer(cfg, randomInpFormer(cfg, 1), { maxSessions: inputs.length });
  for (const S of inputs) {
    for (const B of batches) {
      const per = 3 * S * S;
      const data = Float32Array.from({ length: B * per }, (_, i) => Math.sin(i * 0.37));
      const input = { data, shape: [B, 3, S, S] as [number, number, number, number] };
      await model.predict(input, { mapSize: 256 }); // warm-up: export, session, first run
      const times: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        await model.predict(input, { mapSize: 256 });
        times.push((performance.now() - t0) / B);
      }
      times.sort((a, b) => a - b);
      const med = times[Math.floor(times.length / 2)];
      const official = OFFICIAL[`${size}:${S}`];
      const ratio = B === 1 && official ? ` (${(times[0] / official).toFixed(2)}× the official export's ${official})` : '';
      const line = `| onnxruntime-node ${version} (CPU), our export | ViT-${size[0].toUpperCase()}/14 | ${S} | ${B} | ${med.toFixed(0)} | ${times[0].toFixed(0)}${ratio} | ${(inpFormerGflop(size, S) / (med / 1000)).toFixed(1)} |`;
      console.log(line);
      rows.push(line);
    }
  }
  await model.dispose();
}

if (!values['no-write']) {
  replaceSection('speed-onnx', [
    `Command: \`npx tsx bench/onnx-speed.ts\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}) · random weights, median and min of ${reps} after a warm-up, ms per image, whole model incl. the 256×256 map chain and the zero-shot branch. Target: no slower than 1.1× the official model's ONNX on the same runtime (batch 1: ViT-S 224 72 ms, ViT-S 392 219, ViT-B 224 226, ViT-B 392 728).`,
    '',
    '| runtime | model | input | batch | ms / image (median) | min | GFLOP/s |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'));
}
