/**
 * npm run bench:speed — ms per image of the whole INP-Former (encoder + head + official map chain) with random
 * weights at real sizes: tfjs wasm in Node and headless Chromium (+ WebGPU on SwiftShader, ViT-S 224), then our
 * ONNX export on onnxruntime-node (bench/onnx-rows.ts, each batch) and on onnxruntime-web's wasm backend, batch 1,
 * in Node (bench/onnx-web-rows.ts, one thread per logical CPU) and in Chromium (bench/onnx-web-chromium.ts, its
 * default threads). Each runtime's float32 matMul peak is measured in the same run, just before its rows, and
 * every row gives its GFLOP/s as a % of it. Writes BENCHMARKS.md's sections speed-node, speed-onnx, speed-peak.
 * Options: --sizes small,base --inputs 224,392 --batches 1,8 (onnxruntime-node) --reps 5 --peak-sizes 1024,2048
 *   --no-browser --no-ort-web --no-write
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { createInpFormer } from '../src/inp-former/predict.ts';
import { useBackend } from '../src/runtime/backend.ts';
import { PEAK_SIZES, peakLines, peakSection, peakTable, type PeakRow } from './matmul-peak.ts';
import { peakOf, rateCells, threadsLabel, timeRuns, type MatMulRun } from './measure.ts';
import { inpFormerGflop as gflop } from './onnx-flops.ts';
import { onnxSection, onnxSpeedRows, ortNodePeak } from './onnx-rows.ts';
import { onnxWebSpeedRows, ortWebNode, ortWebPeak } from './onnx-web-rows.ts';
import { replaceSection } from './report.ts';
import { tfjsMatMul } from './tfjs-matmul.ts';

const { values } = parseArgs({ options: {
  sizes: { type: 'string', default: 'small,base' }, inputs: { type: 'string', default: '224,392' }, reps: { type: 'string', default: '5' },
  batches: { type: 'string', default: '1,8' }, 'peak-sizes': { type: 'string', default: PEAK_SIZES.join(',') },
  'no-browser': { type: 'boolean' }, 'no-ort-web': { type: 'boolean' }, 'no-write': { type: 'boolean' },
} });
const sizes = values.sizes!.split(',') as Array<'small' | 'base' | 'large'>;
const inputs = values.inputs!.split(',').map(Number);
const reps = Number(values.reps);
const peakSizes = values['peak-sizes']!.split(',').map(Number);
if (!peakSizes.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`--peak-sizes: expected positive integers like 1024,2048, got "${values['peak-sizes']}"`);
const COMMAND = 'npm run bench:speed';

/** The speed-peak table's lines, in the order the runtimes ran. */
const measuredPeaks: string[] = [];
/** Records (and prints) a runtime's matMul runs; returns its peak GFLOP/s. */
function addPeak(row: PeakRow): number {
  for (const line of peakLines(row)) {
    console.log(line);
    measuredPeaks.push(line);
  }
  return peakOf(row.runs);
}

await useBackend('wasm');
const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
const tfjsRuntime = `tfjs wasm (${threadsLabel(getThreadsCount())}, Node ${process.version})`;
const tfjsRuns: MatMulRun[] = [];
for (const n of peakSizes) tfjsRuns.push(await tfjsMatMul(n, reps));
const tfjsPeak = addPeak({ runtime: tfjsRuntime, runs: tfjsRuns });

const rows: string[] = [];
for (const size of sizes) {
  const cfg = dinov2InpFormerConfig(size);
  const model = createInpFormer(cfg, randomInpFormer(cfg, 1));
  for (const S of inputs) {
    const x = tf.randomNormal([1, 3, S, S], 0, 1, 'float32', 1) as tf.Tensor4D;
    const { med, min } = await timeRuns(reps, () => model.predict(x, { mapSize: 256 }));
    x.dispose();
    const line = `| ${tfjsRuntime} | ViT-${size[0].toUpperCase()}/14 | ${S} | ${med.toFixed(0)} | ${min.toFixed(0)} | ${rateCells(gflop(size, S), med, tfjsPeak)} |`;
    console.log(line);
    rows.push(line);
  }
  model.dispose();
}

/**
 * Headless Chromium: tfjs wasm at every size, WebGPU (SwiftShader, ~0.3 GFLOP/s) for ViT-S 224 only, each page
 * measuring its backend's tf.matMul peak first (WebGPU: the smallest peak size, once); then onnxruntime-web wasm.
 */
async function browserRows(): Promise<{ tfjs: string[]; onnx: string[] }> {
  const { HAS_CHROMIUM, launchChromium, startVite } = await import('../test/browser/chromium.ts');
  if (!HAS_CHROMIUM) return { tfjs: ['| headless Chromium | – | – | not run: no /usr/bin/chromium | | | |'], onnx: [] };
  const vite = await startVite();
  const browser = await launchChromium();
  const version = browser.version();
  const out = { tfjs: [] as string[], onnx: [] as string[] };
  try {
    const runs: Array<[string, string, string, number, number[]]> = [
      ['wasm', values.sizes!, values.inputs!, reps, peakSizes], ['webgpu', 'small', '224', 1, [Math.min(...peakSizes)]],
    ];
    for (const [backend, s, inp, r, peak] of runs) {
      const page = await browser.newPage();
      await page.goto(`${vite.url}/bench/browser.html?backend=${backend}&sizes=${s}&inputs=${inp}&reps=${r}&peak=${peak}`);
      await page.waitForFunction(() => (window as any).__bench || (window as any).__benchError, undefined, { timeout: 1_800_000, polling: 1000 });
      const res = await page.evaluate(() => (window as any).__bench ?? { error: (window as any).__benchError });
      await page.close();
      if (res.error) { out.tfjs.push(`| Chromium ${version} ${backend} | – | – | failed: ${String(res.error).split('\n')[0]} | | | |`); continue; }
      const runtime = `tfjs ${res.backend} (headless Chromium ${version}, ${backend === 'webgpu' ? 'SwiftShader' : threadsLabel(res.threads)})`;
      const pagePeak = addPeak({ runtime, runs: res.peak });
      for (const { size, input, med, min } of res.results as Array<{ size: 'small' | 'base'; input: number; med: number; min: number }>) {
        const line = `| ${runtime} | ViT-${size[0].toUpperCase()}/14 | ${input} | ${med.toFixed(0)} | ${min.toFixed(0)} | ${rateCells(gflop(size, input), med, pagePeak)} |`;
        console.log(line);
        out.tfjs.push(line);
      }
    }
    if (!values['no-ort-web']) {
      const { chromiumOnnxWebRows } = await import('./onnx-web-chromium.ts');
      try {
        const { peak, rows } = await chromiumOnnxWebRows(browser, vite.url, { sizes, inputs, reps, peakSizes });
        addPeak(peak);
        out.onnx.push(...rows);
      } catch (e) {
        out.onnx.push(`| onnxruntime-web wasm (headless Chromium ${version}) | – | – | – | failed: ${(e as Error).message.split('\n')[0]} | | | |`);
      }
    }
  } finally {
    await browser.close();
    await vite.server.close();
  }
  return out;
}
const browser = values['no-browser'] ? { tfjs: [], onnx: [] } : await browserRows();
rows.push(...browser.tfjs);

const nodePeak = await ortNodePeak(reps, peakSizes);
const onnxRows = await onnxSpeedRows({
  sizes, inputs, batches: values.batches!.split(',').map(Number), reps, ...(nodePeak ? { peak: addPeak(nodePeak) } : {}),
});
if (!values['no-ort-web']) {
  const runtime = ortWebNode(os.availableParallelism());
  const peak = addPeak(await ortWebPeak(runtime, reps, peakSizes));
  onnxRows.push(...await onnxWebSpeedRows({ runtime, sizes, inputs, reps, peak }));
}
onnxRows.push(...browser.onnx);

console.log(`\nmatMul peak\n${peakTable(measuredPeaks)}`);

if (!values['no-write']) {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  replaceSection('speed-node', [
    `Command: \`${COMMAND}\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${cpu}) · random weights, batch 1, median of ${reps} after a warm-up (WebGPU: 1 run), whole model incl. the 256×256 map chain; "% of matMul peak" against the same runtime's peak in speed-peak. Target: ViT-S/14 at 224 under 1 s in Node.`,
    '',
    '| runtime | model | input | ms / image (median) | min | GFLOP/s | % of matMul peak |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'));
  replaceSection('speed-onnx', onnxSection(onnxRows, reps, COMMAND));
  replaceSection('speed-peak', peakSection(measuredPeaks, reps, COMMAND));
}
