import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_CHROMIUM, launchChromium, NO_CHROMIUM } from './chromium.ts';
import { serveFolder } from '../helpers/static-server.ts';
import { canvasDrawn, SHOTS } from './workspace-page.ts';

/**
 * The embeddable bundle (vite.bundle.config.ts) on a page that is not ours: a plain HTML file, served by a bare
 * static server from another folder, loads components.js with one <script type="module"> and uses the elements.
 */
describe.skipIf(!HAS_CHROMIUM)(`embeddable bundle${HAS_CHROMIUM ? '' : ` (${NO_CHROMIUM})`}`, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'inp-host-'));
  let site: Awaited<ReturnType<typeof serveFolder>>;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    await build({ configFile: 'vite.bundle.config.ts', logLevel: 'error', build: { outDir: path.join(dir, 'vendor/inp') } });
    writeFileSync(path.join(dir, 'index.html'), `<!doctype html>
<meta charset="utf-8"><title>Host tool</title>
<script type="module" src="./vendor/inp/components.js"></script>
<h1>Someone else's labelling tool</h1>
<inp-sensitivity id="knob"></inp-sensitivity>
<script type="module">
  await customElements.whenDefined('inp-workspace');
  const ws = document.createElement('inp-workspace');
  ws.samples = [0, 1, 2].map((seed) => ({ id: 'n' + seed, name: 'n' + seed + '.png', source: { kind: 'sample', surface: 'fabric', defect: null, seed, size: 128 } }));
  ws.backends = ['wasm'];
  ws.dbName = 'host-db';
  ws.style.cssText = 'display: block; height: 700px';
  document.body.append(ws);
</script>
`);
    site = await serveFolder(dir);
    url = `${site.url}/index.html`;
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a host page sets a property, sees it rendered, gets the typed event, and runs the workspace with its worker and assets', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}?backends=wasm`);
    const knob = page.locator('#knob');
    await expect.poll(() => knob.evaluate((el) => !!(el as HTMLElement).shadowRoot)).toBe(true);
    await knob.evaluate((el) => { (el as unknown as { value: number }).value = 0.8; });
    await expect.poll(() => page.locator('#knob [data-testid="sensitivity-value"]').textContent()).toBe('0.80');
    const detail = await page.evaluate(() => new Promise<unknown>((resolve) => {
      const el = document.querySelector('#knob')!;
      el.addEventListener('inp-sensitivity-input', (e) => resolve((e as CustomEvent).detail), { once: true });
      const input = el.shadowRoot!.querySelector('input')!;
      input.value = '0.3';
      input.dispatchEvent(new Event('input', { bubbles: true, composed: true }));
    }));
    expect(detail).toEqual({ value: 0.3 });
    // The workspace starts its model worker from the bundle's folder and draws the first sample.
    await expect.poll(() => canvasDrawn(page), { timeout: 60_000 }).toBe(true);
    await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toContain('wasm');
    await page.screenshot({ path: `${SHOTS}/bundle-host-page.png` });
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);
});
