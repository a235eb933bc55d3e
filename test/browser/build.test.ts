import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_CHROMIUM, launchChromium, NO_CHROMIUM } from './chromium.ts';
import { canvasDrawn, markNormal, openWorkspace } from './workspace-page.ts';

/**
 * The production build (`npm run build`, minified, as a host would deploy it) is a different program from the dev
 * server the other browser tests use: its own CSS minifier, chunking and worker bundling. Build it, serve it with
 * `vite preview` and run the workspace's first loop on it.
 */
describe.skipIf(!HAS_CHROMIUM)(`production build${HAS_CHROMIUM ? '' : ` (${NO_CHROMIUM})`}`, () => {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'inp-build-'));
  let server: PreviewServer;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    await build({ configFile: 'vite.config.ts', logLevel: 'error', build: { outDir, emptyOutDir: true } });
    server = await preview({ configFile: 'vite.config.ts', logLevel: 'error', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } });
    url = server.resolvedUrls!.local[0].replace(/\/$/, '');
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  it('bundles the wasm files and the model worker, and the built page draws a sample and fits the kNN with no page error', async () => {
    const assets = readdirSync(path.join(outDir, 'assets'));
    for (const f of [/^tfjs-backend-wasm-simd-.*\.wasm$/, /^ort-wasm-simd-threaded.*\.wasm$/, /^model-worker-.*\.js$/]) expect(assets.some((a) => f.test(a)), String(f)).toBe(true);
    const { page, errors } = await openWorkspace(browser, url, `db=build-${Date.now()}`);
    await expect.poll(() => canvasDrawn(page), { timeout: 15_000 }).toBe(true);
    for (let i = 0; i < 3; i++) await markNormal(page, `fabric-good-0${i}`);
    await page.getByText(/Model fitted on 3 normal images/).waitFor({ timeout: 120_000 });
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);
});
