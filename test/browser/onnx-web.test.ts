import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inferInpFormerConfig } from '../../src/checkpoint/infer-config.ts';
import { readPth } from '../../src/checkpoint/pth.ts';
import { exportInpFormerOnnx } from '../../src/onnx/export-inp-former.ts';
import { fixture, HAS_FIXTURES, loadFixtureTensors, maxAbsDiff, relMaxDiff, skipReason } from '../helpers/shared.ts';
import { HAS_CHROMIUM, NO_CHROMIUM, useBrowserAndVite } from './chromium.ts';

/**
 * Our ONNX export of fixtures/inp-tiny in onnxruntime-web's wasm provider, in headless Chromium through the Vite
 * dev server (bench/onnx-web.html), against the official reference map: within 1e-4 of its max.
 */
const SKIP = !HAS_CHROMIUM ? ` (${NO_CHROMIUM})` : !HAS_FIXTURES ? ` (${skipReason('fixtures')})` : '';
const MODEL_URL = '/__test__/inp-tiny.onnx';

describe.skipIf(SKIP !== '')(`onnxruntime-web runs the inp-tiny export${SKIP}`, () => {
  const env = useBrowserAndVite();

  it('wasm: the official anomaly map within 1e-4 of its max and the image scores within 1e-5', async () => {
    const file = fixture('inp-tiny', 'model.pth');
    const weights = readPth(new Uint8Array(readFileSync(file)), file);
    const bytes = exportInpFormerOnnx(inferInpFormerConfig(weights, file), weights, { inputSize: [112, 112], mapSize: [256, 256] }, file);
    const img = loadFixtureTensors('inp-tiny', 'input.safetensors').get('images')!;
    const golden = loadFixtureTensors('inp-tiny', 'forward.safetensors');

    const page = await env.browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route(`**${MODEL_URL}`, (route) => route.fulfill({ body: Buffer.from(bytes), contentType: 'application/octet-stream' }));
    await page.goto(`${env.vite.url}/bench/onnx-web.html`);
    await page.waitForFunction(() => typeof window.runOnnx === 'function', undefined, { timeout: 60_000 });
    const r = await page.evaluate(
      ([url, data, shape]) => window.runOnnx(url, { data, shape }, 256, ['wasm']),
      [MODEL_URL, Array.from(img.data as Float32Array), img.shape as [number, number, number, number]] as const,
    );
    expect(errors).toEqual([]);
    expect(r.provider).toBe('wasm');
    const mapErr = relMaxDiff(r.map, golden.get('anomaly_map')!.data as Float32Array);
    console.log(`onnxruntime-web wasm, inp-tiny 2×112²: ${r.ms.toFixed(0)} ms; map max error rel. to the reference max ${mapErr.toExponential(2)}`);
    expect(mapErr).toBeLessThan(1e-4);
    expect(maxAbsDiff(r.scores, golden.get('image_score')!.data as Float32Array)).toBeLessThan(1e-5);
    await page.close();
  });
});
