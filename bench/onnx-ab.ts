/**
 * A/B of a graph change: ms per image of a saved export (before the change) and of the current export, both of
 * the whole INP-Former with random weights (seed 1), 256×256 map, batch 1, on onnxruntime-web wasm (Node) and
 * onnxruntime-node with the same thread count. Runs alternate A, B, B, A, … after a warm-up each, so a loaded
 * machine slows both alike; prints each one's fastest and median run.
 * Run: npx tsx bench/onnx-ab.ts --save before.onnx   (before the change: writes the current export)
 *      npx tsx bench/onnx-ab.ts before.onnx           (after it)
 * Options: [--size small] [--input 224] [--threads 2] [--reps 3]; the saved file must match size and input.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as ortWeb from 'onnxruntime-web';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { exportInpFormerOnnx, ONNX_IO } from '../src/onnx/export-inp-former.ts';
import { loadOnnxRuntime } from '../src/platform/node/onnx-runtime.ts';
import { benchBatch, ORT_WEB_WASM, type Ort } from './measure.ts';
import { ortWebNode } from './onnx-web-rows.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: {
  save: { type: 'string' }, size: { type: 'string', default: 'small' }, input: { type: 'string', default: '224' },
  threads: { type: 'string', default: '2' }, reps: { type: 'string', default: '3' },
} });
const cfg = dinov2InpFormerConfig(values.size as 'small' | 'base' | 'large');
const S = Number(values.input);
const current = exportInpFormerOnnx(cfg, randomInpFormer(cfg, 1), { inputSize: [S, S], mapSize: [256, 256] });
if (values.save) {
  writeFileSync(values.save, current);
  process.exit(0);
}
if (positionals.length !== 1) throw new Error('usage: npx tsx bench/onnx-ab.ts (--save FILE | FILE) [--size] [--input] [--threads] [--reps]');
const graphs = { before: new Uint8Array(readFileSync(positionals[0])), after: current };
const threads = Number(values.threads);
const reps = Number(values.reps);
const { data, shape } = benchBatch(1, S);

async function ab(runtime: string, ort: Ort, options: Parameters<Ort['InferenceSession']['create']>[1]): Promise<void> {
  const feeds = { [ONNX_IO.input]: new ort.Tensor('float32', data, shape) };
  const sessions = { before: await ort.InferenceSession.create(graphs.before, options), after: await ort.InferenceSession.create(graphs.after, options) };
  const times: Record<keyof typeof graphs, number[]> = { before: [], after: [] };
  for (let i = -1; i < reps; i++) {
    for (const k of i % 2 ? (['after', 'before'] as const) : (['before', 'after'] as const)) {
      const t0 = performance.now();
      await sessions[k].run(feeds, [ONNX_IO.map, ONNX_IO.score]);
      if (i >= 0) times[k].push(performance.now() - t0);
    }
  }
  for (const k of ['before', 'after'] as const) {
    const t = times[k].sort((a, b) => a - b);
    console.log(`${runtime}, ${k}: min ${t[0].toFixed(0)} ms, median ${t[t.length >> 1].toFixed(0)} ms (${times[k].map((x) => x.toFixed(0)).join(', ')})`);
    await sessions[k].release();
  }
}

await ab(ortWebNode(threads), ortWeb, ORT_WEB_WASM);
const node = await loadOnnxRuntime();
if (node.ok) await ab(`onnxruntime-node ${node.ort.env.versions.node} (${threads} threads)`, node.ort, { graphOptimizationLevel: 'all', intraOpNumThreads: threads });
