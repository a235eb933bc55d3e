import http from 'node:http';
import type { Browser } from 'playwright-core';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { exportInpFormerOnnx } from '../src/onnx/export-inp-former.ts';
import { closeServer, listen } from '../src/platform/node/http.ts';
import { matMulModel, type PeakRow } from './matmul-peak.ts';
import { peakOf, rateCells, threadsLabel } from './measure.ts';
import { inpFormerGflop } from './onnx-flops.ts';

/**
 * onnxruntime-web wasm in headless Chromium, through src/platform/web-onnx.ts on bench/onnx-web.html (served by
 * the Vite dev server, cross-origin isolated, so wasm threads are allowed): its matMul peak, then our export of
 * the whole INP-Former (random weights, 256×256 map), batch 1.
 */
export async function chromiumOnnxWebRows(browser: Browser, viteUrl: string, o: { sizes: Array<'small' | 'base' | 'large'>; inputs: number[]; reps: number; peakSizes: number[] }): Promise<{ peak: PeakRow; rows: string[] }> {
  // The models come from a loopback server of their own: a route.fulfill body crosses the DevTools protocol as
  // base64, which ViT-B's ~350 MB export does not fit. Each is exported when the page asks for it.
  const models = new Map<string, () => Uint8Array>();
  for (const n of o.peakSizes) models.set(`/matmul-${n}.onnx`, () => matMulModel(n));
  for (const size of o.sizes) {
    const cfg = dinov2InpFormerConfig(size);
    let tensors: ReturnType<typeof randomInpFormer> | undefined;
    for (const S of o.inputs) models.set(`/${size}-${S}.onnx`, () => exportInpFormerOnnx(cfg, tensors ??= randomInpFormer(cfg, 1), { inputSize: [S, S], mapSize: [256, 256] }, `random ViT-${size}`));
  }
  const server = http.createServer((req, res) => {
    const make = models.get(req.url ?? '');
    if (!make) { res.writeHead(404).end(); return; }
    const body = make();
    // The page is cross-origin isolated (COEP require-corp): a cross-origin fetch needs CORS.
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.byteLength, 'Access-Control-Allow-Origin': '*' });
    res.end(body);
  });
  const { url } = await listen(server, 0, '127.0.0.1');
  const page = await browser.newPage();
  try {
    await page.goto(`${viteUrl}/bench/onnx-web.html`);
    await page.waitForFunction(() => typeof window.benchOnnx === 'function', undefined, { timeout: 120_000 });
    const measured = [];
    for (const n of o.peakSizes) measured.push(await page.evaluate(([u, n, reps]) => window.benchMatMul(u, n, reps), [`${url}/matmul-${n}.onnx`, n, o.reps] as const));
    const runtime = `onnxruntime-web wasm (headless Chromium ${browser.version()}, ${threadsLabel(measured[0].threads)})`;
    const peak = { runtime, runs: measured.map(({ n, ms, gflops }) => ({ n, ms, gflops })) };
    const rows: string[] = [];
    for (const size of o.sizes) {
      for (const S of o.inputs) {
        const { med, min } = await page.evaluate(([u, S, reps]) => window.benchOnnx(u, S, 256, reps), [`${url}/${size}-${S}.onnx`, S, o.reps] as const);
        const line = `| ${runtime}, our export | ViT-${size[0].toUpperCase()}/14 | ${S} | 1 | ${med.toFixed(0)} | ${min.toFixed(0)} | ${rateCells(inpFormerGflop(size, S), med, peakOf(peak.runs))} |`;
        console.log(line);
        rows.push(line);
      }
    }
    return { peak, rows };
  } finally {
    await page.close();
    await closeServer(server);
  }
}
