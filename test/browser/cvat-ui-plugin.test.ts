import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeCvatMask } from '../../src/export/cvat-rle.ts';
import { HAS_CHROMIUM, NO_CHROMIUM, useBrowserAndVite } from './chromium.ts';

const SHOTS = 'test-output/screenshots';

/**
 * The CVAT UI plugin (integrations/cvat/ui-plugin) against a STAND-IN of CVAT's client plugin API and core hooks
 * (integrations/cvat/ui-plugin/stand-in, written from CVAT's source; not CVAT itself): the plugin registers through
 * window.cvatUI, its detector appears in lambda.list, and lambda.call for it turns frame 4 into mask shapes.
 */
describe.skipIf(!HAS_CHROMIUM)(`CVAT UI plugin on a CVAT stand-in in headless Chromium${HAS_CHROMIUM ? '' : ` (${NO_CHROMIUM})`}`, () => {
  const env = useBrowserAndVite(() => mkdirSync(SHOTS, { recursive: true }));

  it('turns a frame into mask shapes whose CVAT RLE decodes to our masks', async () => {
    const page = await env.browser.newPage();
    await page.goto(`${env.vite.url}/integrations/cvat/ui-plugin/stand-in/index.html?threshold=0.5`);
    await page.waitForSelector('body[data-ready]', { timeout: 110_000 }).catch(async (e) => { await page.screenshot({ path: `${SHOTS}/cvat-ui-plugin-stand-in.png` }); throw e; });
    await page.screenshot({ path: `${SHOTS}/cvat-ui-plugin-stand-in.png` });
    expect(await page.locator('#status').textContent()).toMatch(/^done/);
    const shapes = JSON.parse(await page.getByTestId('shapes').textContent() ?? '') as Array<{ shapeType: string; label: string; points: number[] }>;
    const expected = JSON.parse(await page.getByTestId('expected').textContent() ?? '') as number[][];
    expect(shapes.length).toBeGreaterThan(0);
    expect(shapes.length).toBe(expected.length);
    shapes.forEach((s, k) => {
      expect(s.shapeType).toBe('mask');
      expect(s.label).toBe('defect');
      const got = decodeCvatMask(s.points, 256, 256, `shapes[${k}]`);
      const want = decodeCvatMask(expected[k], 256, 256, `expected[${k}]`);
      expect(got.data.reduce((a, v) => a + v, 0)).toBeGreaterThan(0);
      expect(Buffer.from(got.data).equals(Buffer.from(want.data))).toBe(true);
    });
    await page.close();
  }, 150_000);
});
