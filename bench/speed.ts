/**
 * npm run bench:speed — ms per image of the whole INP-Former (encoder + head + official map chain) with random
 * weights at real sizes, on tfjs wasm in Node and headless Chromium, then our ONNX export on onnxruntime-node
 * (bench/onnx-rows.ts). Writes its tables into BENCHMARKS.md between markers (speed-node, speed-onnx).
 * Options: --sizes small,base --inputs 224,392 --batches 1,8 (onnx) --reps 5 --no-browser --no-write
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { dinov2InpFormerConfig, randomInpFormer } from '../src/inp-former/init.ts';
import { createInpFormer } from '../src/inp-former/predict.ts';
import { useBackend } from '../src/runtime/backend.ts';
import { inpFormerGflop as gflop } from './onnx-flops.ts';
import { onnxSection, onnxSpeedRows } from './onnx-rows.ts';
import { replaceSection } from './report.ts';

const { values } = parseArgs({ options: {
  sizes: { type: 'string', default: 'small,base' }, inputs: { type: 'string', default: '224,392' }, reps: { type: 'string', default: '5' },
  batches: { type: 'string', default: '1,8' }, 'no-browser': { type: 'boolean' }, 'no-write': { type: 'boolean' },
} });
const sizes = values.sizes!.split(',') as Array<'small' | 'base' | 'large'>;
const inputs = values.inputs!.split(',').map(Number);
const reps = Number(values.reps);

await useBackend('wasm');
const rows: string[] = [];
for (const size of sizes) {
  const cfg = dinov2InpFormerConfig(size);
  const model = createInpFormer(cfg, randomInpFormer(cfg, 1));
  for (const S of inputs) {
    const x = tf.randomNormal([1, 3, S, S], 0, 1, 'float32', 1) as tf.Tensor4D;
    await model.predict(x, { mapSize: 256 }); // warm-up: kernels, positional table
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await model.predict(x, { mapSize: 256 });
      times.push(performance.now() - t0);
    }
    x.dispose();
    times.sort((a, b) => a - b);
    const med = times[Math.floor(times.length / 2)];
    const g = gflop(size, S);
    const line = `| tfjs wasm (1 thread, Node ${process.version}) | ViT-${size[0].toUpperCase()}/14 | ${S} | ${med.toFixed(0)} | ${times[0].toFixed(0)} | ${(g / (med / 1000)).toFixed(1)} |`;
    console.log(line);
    rows.push(line);
  }
  model.dispose();
}
/** Headless Chromium: wasm at every size, WebGPU (SwiftShader, ~0.3 GFLOP/s) for ViT-S 224 only. */
async function browserRows(): Promise<string[]> {
  const { HAS_CHROMIUM, launchChromium, startVite } = await import('../test/browser/chromium.ts');
  if (!HAS_CHROMIUM) return ['| headless Chromium | – | – | not run: no /usr/bin/chromium | | |'];
  const vite = await startVite();
  const browser = await launchChromium();
  const version = browser.version();
  const out: string[] = [];
  try {
    const runs: Array<[string, string, string, number]> = [['wasm', values.sizes!, values.inputs!, reps], ['webgpu', 'small', '224', 1]];
    for (const [backend, s, inp, r] of runs) {
      const page = await browser.newPage();
      await page.goto(`${vite.url}/bench/browser.html?backend=${backend}&sizes=${s}&inputs=${inp}&reps=${r}`);
      await page.waitForFunction(() => (window as any).__bench || (window as any).__benchError, undefined, { timeout: 1_800_000, polling: 1000 });
      const res = await page.evaluate(() => (window as any).__bench ?? { error: (window as any).__benchError });
      await page.close();
      if (res.error) { out.push(`| Chromium ${version} ${backend} | – | – | failed: ${String(res.error).split('\n')[0]} | | |`); continue; }
      for (const { size, input, ms } of res.results as Array<{ size: 'small' | 'base'; input: number; ms: number[] }>) {
        ms.sort((a, b) => a - b);
        const med = ms[Math.floor(ms.length / 2)];
        const line = `| tfjs ${res.backend} (headless Chromium ${version}${backend === 'webgpu' ? ', SwiftShader' : ', 1 thread'}) | ViT-${size[0].toUpperCase()}/14 | ${input} | ${med.toFixed(0)} | ${ms[0].toFixed(0)} | ${(gflop(size, input) / (med / 1000)).toFixed(1)} |`;
        console.log(line);
        out.push(line);
      }
    }
  } finally {
    await browser.close();
    await vite.server.close();
  }
  return out;
}
if (!values['no-browser']) rows.push(...await browserRows());

const onnxRows = await onnxSpeedRows({ sizes, inputs, batches: values.batches!.split(',').map(Number), reps });

if (!values['no-write']) {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  replaceSection('speed-node', [
    `Command: \`npm run bench:speed\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${cpu}) · random weights, batch 1, median of ${reps} after a warm-up (WebGPU: 1 run), whole model incl. the 256×256 map chain. Target: ViT-S/14 at 224 under 1 s in Node.`,
    '',
    '| runtime | model | input | ms / image (median) | min | GFLOP/s |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'));
  replaceSection('speed-onnx', onnxSection(onnxRows, reps, 'npm run bench:speed'));
}
