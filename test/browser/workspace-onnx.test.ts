import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../src/pipeline/model-protocol.ts';
import { HAS_CHROMIUM, NO_CHROMIUM, useBrowserAndVite } from './chromium.ts';
import { DEFECT, item, markNormal, memory, openWorkspace, predictNow, SHOTS, useTrainedModel } from './workspace-page.ts';

/**
 * The workspace's onnxruntime-web engine (?engine=onnx&providers=wasm): the worker exports the model in use to ONNX
 * and predicts through onnxruntime-web's wasm provider; its maps match the tfjs engine's on the same model.
 */
const NORMALS = ['fabric-good-00', 'fabric-good-01', 'fabric-good-02'];

const engine = (page: Page) => page.getByTestId('engine').textContent();

type Ws = { model: { info?: ModelInfo }; session: { results: Map<string, { model: string; map: { data: Float32Array } }> } };
const info = (page: Page) => page.evaluate(() => (document.querySelector('inp-workspace') as unknown as Ws).model.info);
/** The image's saved map (its proposals are cut from it), once it comes from the model in use. */
async function savedMap(page: Page, id: string): Promise<number[]> {
  await expect.poll(() => page.evaluate((i) => {
    const ws = document.querySelector('inp-workspace') as unknown as Ws;
    return ws.session.results.get(i)?.model === ws.model.info?.version;
  }, id), { timeout: 120_000, interval: 500 }).toBe(true);
  return page.evaluate((i) => Array.from((document.querySelector('inp-workspace') as unknown as Ws).session.results.get(i)!.map.data), id);
}
/** Largest difference of two maps relative to the reference's maximum. */
function relDiff(a: number[], ref: number[]): number {
  expect(a.length).toBe(ref.length);
  let d = 0;
  let top = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(a[i] - ref[i])); top = Math.max(top, Math.abs(ref[i])); }
  return d / top;
}

async function chooseEngine(page: Page, value: 'tfjs' | 'onnx', badge: RegExp): Promise<void> {
  await page.getByTestId('engine-choice').selectOption(value);
  await expect.poll(() => engine(page), { timeout: 60_000 }).toMatch(badge);
}

describe.skipIf(!HAS_CHROMIUM)(`workspace: onnxruntime-web engine${HAS_CHROMIUM ? '' : ` (${NO_CHROMIUM})`}`, () => {
  const env = useBrowserAndVite(() => mkdirSync(SHOTS, { recursive: true }));
  // Vite pre-bundles onnxruntime-web and protobufjs when the worker first imports them, then reloads the page: that
  // happens here, by importing them in a first page, not inside a test.
  beforeAll(async () => {
    const warm = await env.browser.newPage();
    await warm.goto(`${env.vite.url}/?backends=wasm&db=onnx-warmup-${Date.now()}`);
    await warm.getByTestId('backend').filter({ hasText: 'wasm' }).waitFor({ timeout: 180_000 });
    // Only a reload (the evaluation's context destroyed) calls for another try; the imports' own outcome is the tests'.
    // A string, so that Vitest does not rewrite the page's import() into its own.
    const modules = JSON.stringify(['/src/platform/web-onnx.ts', '/src/onnx/export-knn.ts', '/src/onnx/export-inp-former.ts']);
    const load = () => warm.evaluate<boolean>(`Promise.allSettled(${modules}.map((m) => import(m))).then(() => true)`);
    for (const end = Date.now() + 120_000; !(await load().catch(() => false)) && Date.now() < end;) await warm.waitForTimeout(1000);
    await warm.getByTestId('backend').filter({ hasText: 'wasm' }).waitFor({ timeout: 180_000 });
    await warm.close();
  });

  it('predicts through onnxruntime-web (wasm) with the kNN and a trained INP-Former, as tfjs does; one session at a time', async () => {
    const t0 = Date.now();
    const lap = (what: string) => console.log(`workspace-onnx: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const { page, errors } = await openWorkspace(env.browser, env.vite.url, `engine=onnx&providers=wasm&db=onnx-${Date.now()}`);
    expect(await engine(page)).toBe('onnxruntime-web · starts with the model');

    // The kNN: fitted on tfjs, exported, predicted by onnxruntime-web.
    for (const id of NORMALS) await markNormal(page, id);
    await page.getByText(/Model fitted on 3 normal images/).waitFor({ timeout: 120_000 });
    await expect.poll(() => engine(page), { timeout: 60_000 }).toBe('onnxruntime-web · wasm');
    await item(page, DEFECT).click();
    const knnOnnx = await savedMap(page, DEFECT);
    const pending = page.locator('inp-review-queue li[data-state="pending"]');
    for (let i = 0; i < 25 && (await pending.count()) === 0; i++) {
      await page.keyboard.press('-');
      await page.waitForTimeout(150);
    }
    expect(await pending.count()).toBeGreaterThan(0);
    await page.screenshot({ path: `${SHOTS}/workspace-onnx-proposals.png` });
    expect((await memory(page)).onnxSessions).toBe(1);
    lap('kNN proposals from onnxruntime-web');

    // The same image on tfjs: the same map within float32 rounding (the export ends at the map; the worker resizes
    // it to the image as tfjs does).
    await chooseEngine(page, 'tfjs', /^tfjs · wasm$/);
    expect((await memory(page)).onnxSessions).toBe(0);
    const knnTfjs = await predictNow(page, DEFECT);
    expect(knnTfjs.engine).toBe('tfjs');
    const knnErr = relDiff(knnOnnx, knnTfjs.map);
    console.log(`workspace-onnx: kNN map, onnxruntime-web vs tfjs: ${knnErr.toExponential(2)} of the map max`);
    expect(knnErr).toBeLessThan(1e-5);

    // Back to onnx, then a refit and a training: each replaces the session, never adds one.
    await chooseEngine(page, 'onnx', /^onnxruntime-web · wasm$/);
    await markNormal(page, 'fabric-good-03');
    await page.getByText(/Model fitted on 4 normal images/).waitFor({ timeout: 120_000 });
    expect((await memory(page)).onnxSessions).toBe(1);
    await page.getByTestId('train-steps').fill('2');
    await page.getByTestId('train').click();
    await useTrainedModel(page);
    await expect.poll(() => page.getByTestId('model-card').textContent(), { timeout: 120_000, interval: 500 }).toContain('Head trained here on 3 normals (2 steps)');
    expect(await engine(page)).toBe('onnxruntime-web · wasm');
    expect((await memory(page)).onnxSessions).toBe(1);
    await item(page, DEFECT).click();
    const inpOnnx = await savedMap(page, DEFECT);
    await page.locator('inp-model-panel').screenshot({ path: `${SHOTS}/workspace-onnx-panel.png` });
    lap('trained INP-Former on onnxruntime-web');
    await chooseEngine(page, 'tfjs', /^tfjs · wasm$/);
    const inpErr = relDiff(inpOnnx, (await predictNow(page, DEFECT)).map);
    console.log(`workspace-onnx: INP-Former map, onnxruntime-web vs tfjs: ${inpErr.toExponential(2)} of the map max`);
    expect(inpErr).toBeLessThan(1e-4);
    expect((await info(page))?.engine).toEqual({ engine: 'tfjs' });
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);

  it('falls back to tfjs with a visible message when onnxruntime-web cannot run the model', async () => {
    const { page, errors } = await openWorkspace(env.browser, env.vite.url, `engine=onnx&providers=nonexistent&db=onnx-fail-${Date.now()}`);
    for (const id of NORMALS) await markNormal(page, id);
    await page.getByText(/Model fitted on 3 normal images/).waitFor({ timeout: 120_000 });
    await expect.poll(() => engine(page), { timeout: 60_000 }).toBe('tfjs · wasm');
    const failure = await page.getByTestId('engine-failure').textContent();
    expect(failure).toMatch(/^onnxruntime-web could not run kNN · nsfwjs MobileNetV2, so tfjs does: /);
    expect(failure).toContain('[nonexistent] backend not found');
    expect(await page.getByRole('alert').filter({ hasText: 'onnxruntime-web could not run' }).count()).toBeGreaterThan(0);
    expect(await page.getByTestId('engine-choice').inputValue()).toBe('tfjs');
    await item(page, DEFECT).click();
    await savedMap(page, DEFECT);
    expect((await memory(page)).onnxSessions).toBe(0);
    await page.locator('inp-model-panel').screenshot({ path: `${SHOTS}/workspace-onnx-fallback.png` });
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);
});
