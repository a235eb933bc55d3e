import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../../src/runtime/backend.ts';
import { fixture, HAS_FIXTURES, skipReason } from '../helpers/shared.ts';
import { HAS_CHROMIUM, NO_CHROMIUM, useBrowserAndVite } from './chromium.ts';
import { FIXTURE_STEPS, trainFixtureSteps, type StepLoss } from './pages/fixture-training.ts';

const reason = !HAS_FIXTURES ? skipReason('fixtures') : !HAS_CHROMIUM ? NO_CHROMIUM : '';

describe.skipIf(!!reason)(`the trainer in headless Chromium on WebGPU (SwiftShader)${reason ? ` (${reason})` : ''}`, () => {
  const env = useBrowserAndVite();

  it(`trains inp-tiny ${FIXTURE_STEPS} steps with the loss of Node's run (wasm) within 1e-3`, async () => {
    const files = { 'model.pth': readFileSync(fixture('inp-tiny', 'model.pth')), 'input.safetensors': readFileSync(fixture('inp-tiny', 'input.safetensors')) };
    await useBackend('wasm');
    const t0 = Date.now();
    const node = await trainFixtureSteps(new Uint8Array(files['model.pth']), new Uint8Array(files['input.safetensors']));
    const tNode = Date.now();

    const page = await env.browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // The fixtures live outside Vite's root: the test serves them to the page itself.
    await page.route('**/fixture/*', (route) => {
      const name = new URL(route.request().url()).pathname.split('/').pop() as keyof typeof files;
      return files[name] ? route.fulfill({ body: files[name], contentType: 'application/octet-stream' }) : route.fulfill({ status: 404 });
    });
    await page.goto(`${env.vite.url}/test/browser/pages/trainer.html?backend=webgpu&steps=${FIXTURE_STEPS}`);
    await page.waitForFunction(() => { const w = window as { __train?: unknown; __trainError?: string }; return !!(w.__train || w.__trainError); }, null, { timeout: 400_000, polling: 500 });
    const { web, failed } = await page.evaluate(() => {
      const w = window as unknown as { __train?: { backend: string; losses: StepLoss[] }; __trainError?: string };
      return { web: w.__train, failed: w.__trainError };
    });
    console.log(`trainer parity: node wasm ${((tNode - t0) / 1000).toFixed(1)} s, chromium webgpu ${((Date.now() - tNode) / 1000).toFixed(1)} s\n${node.map((n, i) => `  step ${n.step}: node ${n.loss.toFixed(7)} (at ${n.seconds.toFixed(1)} s) · webgpu ${web?.losses[i]?.loss.toFixed(7)} (at ${web?.losses[i]?.seconds.toFixed(1)} s)`).join('\n')}`);
    expect(failed).toBeUndefined();
    expect(web!.backend).toBe('webgpu');
    expect(web!.losses.map((l) => l.step)).toEqual(node.map((l) => l.step));
    for (const [i, n] of node.entries()) {
      const g = web!.losses[i];
      expect(Math.abs(g.loss - n.loss), `loss at step ${n.step}`).toBeLessThan(1e-3);
      expect(Math.abs(g.softMining - n.softMining), `L_sm at step ${n.step}`).toBeLessThan(1e-3);
      expect(Math.abs(g.coherence - n.coherence), `L_c at step ${n.step}`).toBeLessThan(1e-3);
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 480_000);
});
