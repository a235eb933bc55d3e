import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { WorkerMemory } from '../../src/pipeline/model-protocol.ts';

/** Page helpers shared by the workspace browser tests: they drive the real page and read its worker through its own client. */
export const SHOTS = 'test-output/screenshots';
export const DEFECT = 'fabric-scratch-1000';

export const item = (page: Page, id: string) => page.locator(`inp-review-queue li[data-id="${id}"]`);

type Client = { request(r: { type: 'predict'; id: string } | { type: 'memory' }): { result: Promise<unknown> } };

/** Opens an image in the review queue and marks it normal (key g). */
export async function markNormal(page: Page, id: string): Promise<void> {
  await item(page, id).click();
  await expect.poll(() => item(page, id).getAttribute('aria-current')).toBe('true');
  await page.keyboard.press('g');
  await expect.poll(() => item(page, id).locator('.badge').last().textContent(), { message: id }).toBe('normal');
}

/** The worker's tfjs memory and live ONNX sessions. */
export function memory(page: Page): Promise<WorkerMemory> {
  return page.evaluate(() => (document.querySelector('inp-workspace') as unknown as { model: { client: Client } }).model.client.request({ type: 'memory' }).result as Promise<WorkerMemory>);
}

/** A fresh map of a registered image from the model in the worker now, and the engine that made it. */
export function predictNow(page: Page, id: string): Promise<{ map: number[]; engine: string }> {
  return page.evaluate(async (i) => {
    const ws = document.querySelector('inp-workspace') as unknown as { model: { client: Client } };
    const r = (await ws.model.client.request({ type: 'predict', id: i }).result) as { map: { data: Float32Array }; engine: { engine: string; provider?: string } };
    return { map: Array.from(r.map.data), engine: [r.engine.engine, r.engine.provider].filter(Boolean).join('/') };
  }, id);
}

/** A new page on the workspace at `query` (the wasm backend forced), once it reports wasm; `errors` collects uncaught page errors. */
export async function openWorkspace(browser: Browser, base: string, query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/?backends=wasm&${query}`);
  await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toContain('wasm');
  return { page, errors };
}

/** True once our canvas element shows image pixels (not the empty dark stage). */
export async function canvasDrawn(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const ws = document.querySelector('inp-workspace')?.shadowRoot;
    const c = ws?.querySelector('inp-image-canvas')?.shadowRoot?.querySelector('canvas');
    if (!c || !c.width) return false;
    const d = c.getContext('2d')!.getImageData(c.width / 2 - 8, c.height / 2 - 8, 16, 16).data;
    let s = 0;
    for (let i = 0; i < d.length; i += 4) s += Math.abs(d[i] - 27) + Math.abs(d[i + 1] - 31) + Math.abs(d[i + 2] - 39);
    return s > 16 * 16 * 10;
  });
}

/**
 * After Train / Fine-tune: waits for the validation note, and if the trained model scored no higher (a few steps
 * rarely beat the model in use), takes it anyway, so a test can go on with it.
 */
export async function useTrainedModel(page: Page): Promise<void> {
  const note = page.getByTestId('validation');
  await note.waitFor({ timeout: 150_000 });
  if ((await page.getByTestId('use-trained').count()) > 0) {
    await page.getByTestId('use-trained').click();
    await expect.poll(() => note.textContent(), { timeout: 60_000 }).toContain('The trained model is in use (your choice).');
  }
}
