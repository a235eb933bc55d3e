import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../src/pipeline/model-protocol.ts';
import { HAS_CHROMIUM, NO_CHROMIUM, useBrowserAndVite } from './chromium.ts';
import { DEFECT, item, markNormal, memory, openWorkspace, predictNow, SHOTS } from './workspace-page.ts';

const info = (page: Page) => page.evaluate(() => (document.querySelector('inp-workspace') as unknown as { model: { info?: ModelInfo } }).model.info);
const mapModels = (page: Page) => page.evaluate(() => Object.fromEntries([...(document.querySelector('inp-workspace') as unknown as { session: { results: Map<string, { model: string }> } }).session.results].map(([id, r]) => [id, r.model])));

describe.skipIf(!HAS_CHROMIUM)(`workspace: refine the map from the normals and an accepted defect${HAS_CHROMIUM ? '' : ` (${NO_CHROMIUM})`}`, () => {
  const env = useBrowserAndVite(() => mkdirSync(SHOTS, { recursive: true }));
  beforeAll(async () => {
    const warm = await env.browser.newPage();
    await warm.goto(`${env.vite.url}/?backends=wasm&db=refine-warmup-${Date.now()}`);
    await warm.getByTestId('backend').filter({ hasText: 'wasm' }).waitFor({ timeout: 180_000 });
    await warm.close();
  });

  it('trains a head in the worker with progress, shows both maps\' figures, uses the refined map only if it is tighter, updates from it; no tensor piles up', async () => {
    const { page, errors } = await openWorkspace(env.browser, env.vite.url, `providers=wasm&db=refine-${Date.now()}`);
    expect(await page.getByTestId('refine').isDisabled()).toBe(true);
    expect(await page.getByTestId('refine').getAttribute('title')).toMatch(/Mark at least 4 images normal/);
    const normals = ['fabric-good-00', 'fabric-good-01', 'fabric-good-02', 'fabric-good-03', 'fabric-good-04'];
    for (const id of normals) await markNormal(page, id);
    await page.getByText(/Model fitted on 5 normal images/).waitFor({ timeout: 120_000 });
    const knn = (await info(page))!;

    // An accepted defect: Shift+A takes every proposal of the defect sample (raising the sensitivity until there is one).
    await item(page, DEFECT).click();
    const pending = page.locator('inp-review-queue li[data-state="pending"]');
    for (let i = 0; i < 25 && (await pending.count()) === 0; i++) { await page.keyboard.press('='); await page.waitForTimeout(150); }
    await page.keyboard.press('Shift+A');
    await expect.poll(() => page.getByTestId('refine').textContent()).toBe('Refine map (1 defect)');
    expect(await page.getByTestId('refine').getAttribute('title')).toMatch(/5 normals .* and 1 accepted defect;/);

    await page.getByTestId('refine-steps').fill('6');
    await page.getByTestId('refine').click();
    await expect.poll(() => page.getByTestId('model-progress').textContent(), { timeout: 120_000 }).toMatch(/refine · loss \d\.\d+ · \d\/6|validate/);
    const note = page.getByTestId('refinement');
    await note.waitFor({ timeout: 180_000 });
    const text = (await note.textContent())!;
    expect(text).toMatch(/Refined map: pixel AP \d+\.\d %, pixel AUROC \d+\.\d %, image AUROC \d+\.\d % on 1 normal \+ 1 synthetic defect/);
    expect(text).toMatch(/Model's own map: pixel AP \d+\.\d %/);
    await page.locator('inp-model-panel').screenshot({ path: `${SHOTS}/workspace-refine-panel.png` });
    const kept = text.includes('The refined map is tighter and is in use.');
    if (kept) {
      await expect.poll(async () => (await info(page))?.version).not.toBe(knn.version);
      expect((await info(page))!.description).toContain('Refined by a head trained here on 5 normals and 1 accepted defect (6 steps).');
      // Every map is made again by the refined model.
      await expect.poll(async () => { const v = (await info(page))!.version; const m = await mapModels(page); return normals.filter((id) => m[id] !== v); }, { timeout: 120_000 }).toEqual([]);
      // onnxruntime-web runs the refined kNN too (the export covers the head): the same map as tfjs.
      const tfjsMap = await predictNow(page, DEFECT);
      expect(tfjsMap.engine).toBe('tfjs');
      await page.getByTestId('engine-choice').selectOption('onnx');
      await expect.poll(() => page.getByTestId('engine').textContent(), { timeout: 120_000 }).toBe('onnxruntime-web · wasm');
      const onnxMap = await predictNow(page, DEFECT);
      expect(onnxMap.engine).toBe('onnx/wasm');
      const top = Math.max(...tfjsMap.map.map(Math.abs));
      expect(Math.max(...onnxMap.map.map((v, i) => Math.abs(v - tfjsMap.map[i]))) / top).toBeLessThan(1e-4);
      expect((await memory(page)).onnxSessions).toBe(1);
      await page.getByTestId('engine-choice').selectOption('tfjs');
      await expect.poll(() => page.getByTestId('engine').textContent(), { timeout: 60_000 }).toBe('tfjs · wasm');
    } else {
      expect(text).toContain('The refined map was no tighter: the model\'s own map stays in use.');
      expect((await info(page))!.version).toBe(knn.version);
    }
    const after = await memory(page);

    // Again: continues from the head when it is in use (6 more steps); the worker holds as many tensors as before.
    await page.getByTestId('refine').click();
    await expect.poll(async () => (await page.getByTestId('model-progress').count()) === 0 && (await note.textContent()) !== text, { timeout: 180_000 }).toBe(true);
    if (kept && (await note.textContent())!.includes('is in use')) expect((await info(page))!.description).toContain('(12 steps).');
    expect((await memory(page)).numTensors).toBe(after.numTensors);

    // Cancel stops a refinement within a step or two; the model's map is left as it was.
    const before = (await info(page))!.version;
    await page.getByTestId('refine-steps').fill('400');
    await page.getByTestId('refine').click();
    await expect.poll(() => page.getByTestId('model-progress').textContent(), { timeout: 120_000 }).toMatch(/refine · loss/);
    await page.getByTestId('model-cancel').click();
    await page.getByText('Refinement cancelled (the model\'s map stays)').waitFor({ timeout: 60_000 });
    expect((await info(page))!.version).toBe(before);
    expect((await memory(page)).numTensors).toBe(after.numTensors);
    expect(errors).toEqual([]);
    await page.close();
  }, 900_000);
});
