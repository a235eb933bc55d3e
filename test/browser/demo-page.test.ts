import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_CHROMIUM, launchChromium, NO_CHROMIUM, startVite } from './chromium.ts';
import { fixture, HAS_FIXTURES, skipReason } from '../helpers/shared.ts';

describe.skipIf(!HAS_CHROMIUM)(`demo page in headless Chromium${HAS_CHROMIUM ? '' : ` (${NO_CHROMIUM})`}`, () => {
  let browser: Browser;
  let vite: Awaited<ReturnType<typeof startVite>>;
  beforeAll(async () => {
    vite = await startVite();
    browser = await launchChromium();
    mkdirSync('test-output/screenshots', { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await vite?.server.close();
  });

  for (const [order, want] of [['', 'webgpu'], ['webgl,wasm', 'webgl'], ['wasm', 'wasm'], ['nonexistent-backend,wasm', 'wasm']] as const) {
    it(`starts a backend and says which (${order || 'default order'} → ${want})`, async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${vite.url}/${order ? `?backends=${order}` : ''}`);
      await expect.poll(async () => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toContain(want);
      if (!order) await page.screenshot({ path: 'test-output/screenshots/demo-start.png' });
      expect(errors).toEqual([]);
      await page.close();
    });
  }

  it.skipIf(!HAS_FIXTURES)(`runs a checkpoint on an image in the page, on wasm${HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`}`, async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${vite.url}/?backends=wasm`);
    await expect.poll(async () => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toContain('wasm');
    const [modelInput, imageInput] = await page.locator('input[type=file]').all();
    await imageInput.setInputFiles(fixture('preprocess', 'c_613x517.png'));
    await modelInput.setInputFiles(fixture('inp-tiny', 'model.pth'));
    await page.getByText(/Image score: \d/).waitFor({ timeout: 60_000 });
    await page.screenshot({ path: 'test-output/screenshots/demo-prediction.png' });
    expect(errors).toEqual([]);
    await page.close();
  });
});
