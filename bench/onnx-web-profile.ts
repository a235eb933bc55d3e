/**
 * Where onnxruntime-web's wasm backend (in Node) spends its time on our export of the whole INP-Former (random
 * weights, 256×256 map, batch 1): its own profiler, per op type, each node at its fastest of the timed runs, next
 * to the runs' wall time and this runtime's matMul peak. Kernel time well under the wall time is time between
 * the kernels: the intra-op pool hands every node to its threads and waits for the last one, so on a loaded
 * machine each node can wait for a descheduled thread.
 * Run: npx tsx bench/onnx-web-profile.ts [--size small] [--input 224] [--threads 2] [--runs 3] [--top 12]
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { exportInpFormerOnnx, ONNX_IO } from '../src/onnx/export-inp-former.ts';
import { benchBatch, ORT_WEB_WASM, peakOf } from './measure.ts';
import { inpFormerGflop } from './onnx-flops.ts';
import { ortWebNode, ortWebPeak } from './onnx-web-rows.ts';

const { values } = parseArgs({ options: {
  size: { type: 'string', default: 'small' }, input: { type: 'string', default: '224' }, threads: { type: 'string', default: '2' },
  runs: { type: 'string', default: '3' }, top: { type: 'string', default: '12' },
} });
const size = values.size as 'small' | 'base' | 'large';
const S = Number(values.input);
const runs = Number(values.runs);

/** One event of the Chrome-trace JSON onnxruntime writes (the fields used here). */
interface TraceEvent { cat: string; name: string; ts: number; dur: number; args: { op_name?: string } }

/**
 * The wasm build has no file system to write the profile to: at endProfiling it prints the JSON to stdout, in
 * Node with fs.writeSync(1, …), which is caught for that call.
 */
function endProfiling(session: ort.InferenceSession): TraceEvent[] {
  const writeSync = fs.writeSync;
  let text = '';
  fs.writeSync = ((fd: number, chunk: unknown, ...rest: unknown[]) => {
    if (fd !== 1) return (writeSync as (...a: unknown[]) => number)(fd, chunk, ...rest);
    text += String(chunk);
    return 0;
  }) as typeof writeSync;
  try {
    session.endProfiling();
  } finally {
    fs.writeSync = writeSync;
  }
  return JSON.parse(text.slice(text.indexOf('['), text.lastIndexOf(']') + 1)) as TraceEvent[];
}

const runtime = ortWebNode(Number(values.threads));
const peak = peakOf((await ortWebPeak(runtime, runs)).runs);
const cfg = dinov2InpFormerConfig(size);
const model = exportInpFormerOnnx(cfg, randomInpFormer(cfg, 1), { inputSize: [S, S], mapSize: [256, 256] });
const session = await ort.InferenceSession.create(model, { ...ORT_WEB_WASM, enableProfiling: true });
const { data, shape } = benchBatch(1, S);
const feeds = { [ONNX_IO.input]: new ort.Tensor('float32', data, shape) };
// A warm-up, then the timed runs; the profile covers all of them.
for (let i = 0; i <= runs; i++) await session.run(feeds, [ONNX_IO.map, ONNX_IO.score]);
const events = endProfiling(session);
await session.release();

// The first run is the warm-up.
const timed = events.filter((e) => e.name === 'model_run').slice(1);
const fastest = new Map<string, { op: string; us: number }>();
for (const e of events) {
  if (e.cat !== 'Node' || !e.args.op_name || !timed.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur)) continue;
  const seen = fastest.get(e.name);
  if (!seen || e.dur < seen.us) fastest.set(e.name, { op: e.args.op_name, us: e.dur });
}
const byOp = new Map<string, { nodes: number; ms: number }>();
for (const { op, us } of fastest.values()) {
  const t = byOp.get(op) ?? { nodes: 0, ms: 0 };
  byOp.set(op, { nodes: t.nodes + 1, ms: t.ms + us / 1000 });
}
const kernels = [...byOp.values()].reduce((a, t) => a + t.ms, 0);
const matMul = ['MatMul', 'FusedMatMul'].reduce((a, op) => a + (byOp.get(op)?.ms ?? 0), 0);
const wall = Math.min(...timed.map((r) => r.dur / 1000));
console.log(`${runtime}, our export of ViT-${size[0].toUpperCase()}/14 at ${S}, batch 1, ${runs} runs after a warm-up`);
console.log(`runs: ${timed.map((r) => (r.dur / 1000).toFixed(0)).join(', ')} ms; kernels (each node's fastest): ${kernels.toFixed(0)} ms over ${fastest.size} nodes, ${(100 * kernels / wall).toFixed(0)} % of the fastest run`);
console.log(`MatMul + FusedMatMul: ${(inpFormerGflop(size, S) / (matMul / 1000)).toFixed(1)} GFLOP/s (the model's GFLOP over their time); this runtime's matMul peak: ${peak.toFixed(1)} GFLOP/s`);
console.log('\n| op | nodes | ms | % of kernels |\n|---|---|---|---|');
for (const [op, t] of [...byOp].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(values.top))) {
  console.log(`| ${op} | ${t.nodes} | ${t.ms.toFixed(1)} | ${(100 * t.ms / kernels).toFixed(1)} |`);
}
