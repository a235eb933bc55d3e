import * as ort from 'onnxruntime-web';
import { createWebOnnxModel, type WebOnnxProvider } from '../src/platform/web/onnx.ts';
import { benchBatch, ORT_WEB_WASM, ortMatMul, timeRuns } from './measure.ts';

/**
 * Test page for src/platform/web-onnx.ts (test/browser/onnx-web.test.ts drives it): runs an exported model's
 * bytes fetched from `url` on a [N, 3, H, W] batch. Open it by hand with `?model=<url>&size=<H>` to time a file.
 * bench:speed drives benchOnnx and benchMatMul for its onnxruntime-web rows in Chromium.
 */
async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function runOnnx(url: string, input: { data: number[]; shape: [number, number, number, number] }, mapSize: number, providers?: WebOnnxProvider[]) {
  const model = await createWebOnnxModel(await fetchBytes(url), { where: url, ...(providers ? { providers } : {}) });
  try {
    const t0 = performance.now();
    const r = await model.predict({ data: Float32Array.from(input.data), shape: input.shape }, { mapSize });
    const ms = performance.now() - t0;
    return { provider: model.provider, fallbacks: model.fallbacks, ms, map: r.maps.flatMap((m) => Array.from(m)), scores: r.scores };
  } finally {
    await model.dispose();
  }
}

/** Median and min ms of the exported model at `url` on a 1×3×S×S batch (bench/measure.ts's input), wasm provider. */
async function benchOnnx(url: string, S: number, mapSize: number, reps: number) {
  const model = await createWebOnnxModel(await fetchBytes(url), { where: url, providers: ['wasm'] });
  try {
    const input = benchBatch(1, S);
    return await timeRuns(reps, () => model.predict(input, { mapSize }));
  } finally {
    await model.dispose();
  }
}

/** The one-MatMul model at `url` (bench/matmul-peak.ts, n×n) on the wasm provider: its fastest run, and the wasm threads it had. */
async function benchMatMul(url: string, n: number, reps: number) {
  const run = await ortMatMul(ort, ORT_WEB_WASM, await fetchBytes(url), n, reps);
  return { ...run, threads: ort.env.wasm.numThreads ?? 1 };
}

declare global { interface Window { runOnnx: typeof runOnnx; benchOnnx: typeof benchOnnx; benchMatMul: typeof benchMatMul } }
Object.assign(window, { runOnnx, benchOnnx, benchMatMul });

const q = new URLSearchParams(location.search);
const out = document.getElementById('out')!;
const model = q.get('model');
if (model) {
  const size = Number(q.get('size') ?? 224);
  const input = { data: Array.from({ length: 3 * size * size }, () => Math.random()), shape: [1, 3, size, size] as [number, number, number, number] };
  runOnnx(model, input, Number(q.get('map') ?? 256)).then(
    (r) => { out.textContent = `${r.provider}: ${r.ms.toFixed(0)} ms, score ${r.scores[0]}${r.fallbacks.length ? `\n(${r.fallbacks.join('; ')})` : ''}`; },
    (e: Error) => { out.textContent = `error: ${e.message}`; },
  );
} else {
  out.textContent = 'ready: window.runOnnx(url, input, mapSize, providers?)';
}
