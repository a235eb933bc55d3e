import { createWebOnnxModel, type WebOnnxProvider } from '../src/platform/web-onnx.ts';

/**
 * Test page for src/platform/web-onnx.ts (test/browser/onnx-web.test.ts drives it): runs an exported model's
 * bytes fetched from `url` on a [N, 3, H, W] batch. Open it by hand with `?model=<url>&size=<H>` to time a file.
 */
async function runOnnx(url: string, input: { data: number[]; shape: [number, number, number, number] }, mapSize: number, providers?: WebOnnxProvider[]) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const model = await createWebOnnxModel(new Uint8Array(await res.arrayBuffer()), { where: url, ...(providers ? { providers } : {}) });
  try {
    const t0 = performance.now();
    const r = await model.predict({ data: Float32Array.from(input.data), shape: input.shape }, { mapSize });
    const ms = performance.now() - t0;
    return { provider: model.provider, fallbacks: model.fallbacks, ms, map: r.maps.flatMap((m) => Array.from(m)), scores: r.scores };
  } finally {
    await model.dispose();
  }
}

declare global { interface Window { runOnnx: typeof runOnnx } }
window.runOnnx = runOnnx;

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
