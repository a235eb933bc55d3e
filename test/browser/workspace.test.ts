import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodePng } from '../../src/image/encode-png.ts';
import { makeSample } from '../../src/samples/surfaces.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadCheckpoint } from '../../src/checkpoint/load.ts';
import { buildModelFolder, MANIFEST_FILE, WEIGHTS_FILE } from '../../src/model-folder/manifest.ts';
import { MODEL_CACHE } from '../../components/state/model-cache.ts';
import { crc32, deflateSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_CHROMIUM, launchChromium, NO_CHROMIUM, startVite } from './chromium.ts';
import { canvasDrawn, item, SHOTS } from './workspace-page.ts';
import { fixture, HAS_FIXTURES, skipReason } from '../helpers/shared.ts';


/** A gray PNG of any size, written with node:zlib (a flat image compresses to almost nothing). */
function grayPng(w: number, h: number, value: number): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const t = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(t));
    return Buffer.concat([len, t, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 0;
  const row = Buffer.alloc(w + 1, value); row[0] = 0;
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 1 })), chunk('IEND', Buffer.alloc(0))]);
}

const badge = (page: Page, id: string) => item(page, id).locator('.badge').last();

async function open(page: Page, id: string): Promise<void> {
  await item(page, id).click();
  await expect.poll(() => item(page, id).getAttribute('aria-current')).toBe('true');
}

/** Raises the sensitivity (key =) until the current image has a pending proposal. */
async function untilProposal(page: Page): Promise<void> {
  // The model's map for this image must exist first. "Busy" shows only once the predict loop reaches this image;
  // on a loaded machine it may still be refitting or on another image, so ask the workspace for the result itself.
  await expect.poll(() => page.evaluate(() => {
    const ws = document.querySelector('inp-workspace') as unknown as { session: { results: Map<string, unknown>; settings: { current?: string } } };
    return ws.session.results.has(ws.session.settings.current ?? '');
  }), { timeout: 120_000 }).toBe(true);
  await expect.poll(() => page.locator('inp-review-queue .busy').count(), { timeout: 60_000 }).toBe(0);
  const pending = page.locator('inp-review-queue li[data-state="pending"]');
  for (let i = 0; i < 25 && (await pending.count()) === 0; i++) {
    await page.keyboard.press('=');
    await page.waitForTimeout(150);
  }
  expect(await pending.count()).toBeGreaterThan(0);
}

describe.skipIf(!HAS_CHROMIUM)(`annotator workspace in headless Chromium${HAS_CHROMIUM ? '' : ` (${NO_CHROMIUM})`}`, () => {
  let browser: Browser;
  let vite: Awaited<ReturnType<typeof startVite>>;
  beforeAll(async () => {
    vite = await startVite();
    browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
    // A first load lets Vite pre-bundle the dependencies (and reload once), as a running `npm start` already has;
    // the 15 s contract below is about the page, not about Vite's one-time optimisation on this CI box.
    const warm = await browser.newPage();
    await warm.goto(`${vite.url}/?db=warmup-${Date.now()}`);
    for (const end = Date.now() + 180_000; !(await canvasDrawn(warm).catch(() => false)) && Date.now() < end;) await warm.waitForTimeout(500);
    await warm.close();
  });
  afterAll(async () => {
    await browser?.close();
    await vite?.server.close();
  });

  it('draws a sample within 15 s with no uncaught error, also with --disable-gpu', async () => {
    const noGpu = await launchChromium(['--disable-gpu']);
    try {
      const page = await noGpu.newPage({ viewport: { width: 1400, height: 850 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const t0 = Date.now();
      await page.goto(`${vite.url}/?db=nogpu-${Date.now()}`);
      await expect.poll(() => canvasDrawn(page), { timeout: 15_000, interval: 250 }).toBe(true);
      expect(Date.now() - t0).toBeLessThan(15_000);
      await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toMatch(/webgpu|webgl|wasm|cpu/);
      await page.screenshot({ path: `${SHOTS}/workspace-start.png` });
      expect(errors).toEqual([]);
    } finally {
      await noGpu.close();
    }
  });

  it('runs the review loop: normals → proposals → accept, reject, brush edit, sensitivity, COCO export, reload', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 }, acceptDownloads: true });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const t0 = Date.now();
    const lap = (what: string) => console.log(`workspace: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await page.goto(`${vite.url}/?backends=wasm&db=loop-${Date.now()}`);
    await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toContain('wasm');
    await expect.poll(() => canvasDrawn(page)).toBe(true);

    // Before any normal there is no model, and the panel says what to do rather than "no proposals".
    await expect(page.getByTestId('analysis').textContent()).resolves.toContain('No model yet');
    // Mark 8 normals with the keyboard; the kNN detector starts from them.
    const normals = Array.from({ length: 8 }, (_, i) => `fabric-good-${String(i).padStart(2, '0')}`);
    for (const id of normals) {
      await open(page, id);
      await page.keyboard.press('g');
      await expect.poll(() => badge(page, id).textContent(), { message: id }).toBe('normal');
    }
    const fitStart = Date.now();
    await page.getByText(/Model fitted on 8 normal images/).waitFor({ timeout: 120_000 });
    // The list marks the images the model has not analysed yet (… queued, ⟳ analysing) until it has.
    await expect.poll(() => page.locator('inp-review-queue li [data-analysis="queued"], inp-review-queue li [data-analysis="analysing"]').count(), { timeout: 5_000 }).toBeGreaterThan(0);
    console.log(`workspace: normals marked at ${((fitStart - t0) / 1000).toFixed(1)} s, fitted after ${((Date.now() - fitStart) / 1000).toFixed(1)} s`);

    // Reject every proposal of an image the annotator judges acceptable: it stays unreviewed (a rejection is not a
    // verdict on the image), the workspace asks for G, and only G makes it normal.
    const normalLike = 'fabric-scratch-1001';
    await open(page, normalLike);
    await untilProposal(page);
    while (await page.locator('inp-review-queue li[data-state="pending"]').count()) {
      await page.keyboard.press('r');
      await page.waitForTimeout(100);
    }
    await page.getByText(/every proposal rejected\. Press G/).waitFor({ timeout: 10_000 });
    expect(await badge(page, normalLike).textContent()).toBe('unreviewed');
    await page.keyboard.press('g');
    await expect.poll(() => badge(page, normalLike).textContent()).toBe('normal');

    lap('rejected');

    // A defect image gets proposals; accept the first.
    const defect = 'fabric-scratch-1000';
    await open(page, defect);
    await untilProposal(page);
    await page.screenshot({ path: `${SHOTS}/workspace-proposals.png` });
    lap('proposals');
    await page.keyboard.press('a');
    await expect.poll(() => page.locator('inp-review-queue li[data-state="accepted"]').count()).toBe(1);
    await expect.poll(() => badge(page, defect).textContent()).toBe('defective');

    // Edit it with the brush: select it, E (edit = brush), paint a stroke across the canvas centre.
    // The brush edits the selected region. Accepting recalibrates the threshold once the decision is saved, so the
    // pending proposals listed above the accepted row may still change and move it under the pointer: click until the
    // accepted row is the selected one.
    const acceptedRow = page.locator('inp-review-queue li[data-state="accepted"]');
    await expect.poll(async () => { await acceptedRow.click(); return acceptedRow.getAttribute('aria-selected'); }).toBe('true');
    await page.keyboard.press('e');
    // Drawing with a region selected adds to it, and the canvas says so (Esc would deselect to draw a new one).
    await expect.poll(() => page.getByTestId('canvas-hint').textContent()).toContain('adds to the selected region');
    const box = (await page.locator('inp-image-canvas').boundingBox())!;
    const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
    await page.mouse.move(cx - 60, cy);
    await page.mouse.down();
    for (let k = 1; k <= 12; k++) await page.mouse.move(cx - 60 + k * 10, cy + k * 2);
    await page.mouse.up();
    await expect.poll(() => page.locator('inp-review-queue li[data-state="accepted"]').textContent()).toContain('edited');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('canvas-hint').textContent()).toContain('draws a new region');
    await page.keyboard.press('v');
    await page.screenshot({ path: `${SHOTS}/workspace-edited.png` });
    lap('edited');

    // M shows the masks as outlines only, so the defect under them stays visible; M again fills them.
    const fillOf = () => page.locator('inp-image-canvas').evaluate((el) => (el as HTMLElement & { fill: boolean }).fill);
    await page.keyboard.press('m');
    await expect.poll(fillOf).toBe(false);
    expect(await page.getByTestId('fill').isChecked()).toBe(false);
    await page.screenshot({ path: `${SHOTS}/workspace-outlines.png` });
    await page.keyboard.press('m');
    await expect.poll(fillOf).toBe(true);

    // The sensitivity moves the masks without the model: back down to a lower value.
    const before = Number(await page.getByTestId('sensitivity-value').textContent());
    for (let k = 0; k < 5; k++) await page.keyboard.press('-');
    await expect.poll(async () => Number(await page.getByTestId('sensitivity-value').textContent())).toBeCloseTo(Math.max(0, before - 0.1), 5);
    const sensitivity = await page.getByTestId('sensitivity-value').textContent();

    // "This image only": the image gets its own sensitivity, the session's is shown beside it and stays; another image
    // keeps the session's; clearing the box goes back to it.
    const own = page.getByTestId('sensitivity-image-only');
    await own.check();
    await own.evaluate((el) => (el as HTMLElement).blur());
    for (let k = 0; k < 3; k++) await page.keyboard.press('=');
    await expect.poll(async () => Number(await page.getByTestId('sensitivity-value').textContent())).toBeCloseTo(Number(sensitivity) + 0.06, 5);
    expect(await page.getByTestId('sensitivity-global').textContent()).toContain(sensitivity!);
    await page.screenshot({ path: `${SHOTS}/workspace-image-sensitivity.png` });
    await open(page, 'fabric-good-00');
    expect(await page.getByTestId('sensitivity-value').textContent()).toBe(sensitivity);
    expect(await page.getByTestId('sensitivity-image-only').isChecked()).toBe(false);
    await open(page, defect);
    await expect.poll(async () => Number(await page.getByTestId('sensitivity-value').textContent())).toBeCloseTo(Number(sensitivity) + 0.06, 5);
    await page.getByTestId('sensitivity-image-only').uncheck();
    await expect.poll(() => page.getByTestId('sensitivity-value').textContent()).toBe(sensitivity);

    // COCO export: every image, the accepted (edited) region on the defect image.
    await open(page, defect);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('inp-export-menu button[data-format="coco"]').click()]);
    expect(download.suggestedFilename()).toBe('coco.json');
    const coco = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(coco.images).toHaveLength(20);
    const img = coco.images.find((i: { file_name: string }) => i.file_name === `${defect}.png`);
    expect(img).toMatchObject({ width: 256, height: 256 });
    const anns = coco.annotations.filter((a: { image_id: number }) => a.image_id === img.id);
    expect(anns.length).toBe(1);
    expect(img.attributes.status).toBe('defective');
    expect(anns[0].attributes.review).toBe('edited');
    expect(anns[0].area).toBeGreaterThan(50);
    const normalIds = new Set(coco.images.filter((i: { file_name: string }) => i.file_name.includes('good-0')).map((i: { id: number }) => i.id));
    expect(coco.annotations.filter((a: { image_id: number }) => normalIds.has(a.image_id))).toEqual([]);
    // "Reviewed images only": the 10 images marked normal or defective, none of the pending proposals.
    await page.getByTestId('export-reviewed-only').check();
    const [reviewedDl] = await Promise.all([page.waitForEvent('download'), page.locator('inp-export-menu button[data-format="coco"]').click()]);
    const reviewed = JSON.parse(readFileSync((await reviewedDl.path())!, 'utf8'));
    expect(reviewed.images).toHaveLength(10);
    expect(reviewed.images.every((i: { attributes: { status: string } }) => i.attributes.status !== 'unreviewed')).toBe(true);
    expect(reviewed.annotations.every((a: { attributes: { review: string } }) => a.attributes.review !== 'pending')).toBe(true);
    await page.getByTestId('export-reviewed-only').uncheck();

    lap('exported');
    // Reload: every decision is still there.
    await page.reload();
    await expect.poll(() => canvasDrawn(page), { timeout: 15_000 }).toBe(true);
    for (const id of [...normals, normalLike]) expect(await badge(page, id).textContent()).toBe('normal');
    expect(await badge(page, defect).textContent()).toBe('defective');
    expect(await item(page, defect).getAttribute('aria-current')).toBe('true');
    expect(await page.locator('inp-review-queue li[data-state="accepted"]').textContent()).toContain('edited');
    expect(await page.getByTestId('sensitivity-value').textContent()).toBe(sensitivity);
    await page.screenshot({ path: `${SHOTS}/workspace-reloaded.png` });
    lap('reloaded');
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);

  it('a COCO export lists every image of the session, also those never shown', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${vite.url}/?backends=wasm&db=export-all-${Date.now()}`);
    await expect.poll(() => canvasDrawn(page), { timeout: 30_000 }).toBe(true);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('inp-export-menu button[data-format="coco"]').click()]);
    const coco = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(coco.images).toHaveLength(20);
    expect(coco.images.every((i: { width: number; height: number }) => i.width === 256 && i.height === 256)).toBe(true);
    // Each image says where it stands in review (nothing is reviewed yet in a fresh session).
    expect(new Set(coco.images.map((i: { attributes: { status: string } }) => i.attributes.status))).toEqual(new Set(['unreviewed']));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Open folder… replaces the untouched samples with a dataset folder sorted by path, skips its ground-truth masks, lists file names; remove an image, start a new session', async () => {
    const ds = path.join(mkdtempSync(path.join(tmpdir(), 'inp-folder-')), 'ds');
    const png = (seed: number) => encodePng({ ...makeSample('fabric', null, seed, 64).image, channels: 3 });
    for (const n of [10, 2, 1]) { mkdirSync(path.join(ds, 'test/broken'), { recursive: true }); writeFileSync(path.join(ds, 'test/broken', `${n}.png`), png(n)); }
    mkdirSync(path.join(ds, 'ground_truth/broken'), { recursive: true });
    writeFileSync(path.join(ds, 'ground_truth/broken/1_mask.png'), png(99));
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${vite.url}/?backends=wasm&db=folder-${Date.now()}`);
    await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toContain('wasm');
    await page.getByTestId('open-folder').setInputFiles(ds);
    await page.getByText(/Skipped 1 ground-truth mask file/).waitFor({ timeout: 30_000 });
    // Nobody touched the samples: the user's images take their place rather than mixing with them.
    await page.getByText(/The 20 sample images made way for yours/).waitFor({ timeout: 30_000 });
    const before = 0;
    await expect.poll(() => page.locator('inp-review-queue li[data-id]').count(), { timeout: 30_000 }).toBe(before + 3);
    const names = await page.locator('inp-review-queue li[data-id] .name').allTextContents();
    expect(names.map((n) => n.trim())).toEqual(['1.png test/broken', '2.png test/broken', '10.png test/broken']);
    expect(await page.locator('inp-review-queue li[data-id] .name').last().getAttribute('title')).toBe('ds/test/broken/10.png');
    // The reviewer's view of a long list: by path (the dataset's folder first), only one state, with a count.
    await page.getByTestId('queue-sort').selectOption('path');
    expect((await page.locator('inp-review-queue li[data-id] .name').allTextContents()).slice(0, 3).map((n) => n.trim())).toEqual(['1.png test/broken', '2.png test/broken', '10.png test/broken']);
    await page.getByTestId('queue-filter').selectOption('normal');
    await expect.poll(() => page.locator('inp-review-queue li[data-id]').count()).toBe(0);
    expect(await page.locator('inp-review-queue .count').textContent()).toBe(`0/${before + 3}`);
    await page.getByTestId('queue-filter').selectOption('all');
    await page.screenshot({ path: `${SHOTS}/workspace-folder.png` });

    // Keys walk the list as shown: sorted by path, P from 10.png goes to 2.png; D marks it, and U skips it.
    const currentName = async () => (await page.locator('inp-review-queue li[aria-current="true"] .name').textContent())?.trim();
    await page.locator('inp-review-queue li[data-id]').filter({ hasText: '10.png' }).click();
    await expect.poll(currentName).toBe('10.png test/broken');
    await page.keyboard.press('p');
    await expect.poll(currentName).toBe('2.png test/broken');
    await page.keyboard.press('d');
    await page.keyboard.press('p');
    await expect.poll(currentName).toBe('1.png test/broken');
    await page.keyboard.press('u');
    await expect.poll(currentName).toBe('10.png test/broken');

    // Shift+Delete removes the image shown (no question: nothing was decided on it); the next one is shown.
    const shown = await page.locator('inp-review-queue li[aria-current="true"]').getAttribute('data-id');
    await page.keyboard.press('Shift+Delete');
    await expect.poll(() => page.locator('inp-review-queue li[data-id]').count()).toBe(2);
    expect(await page.locator(`inp-review-queue li[data-id="${shown}"]`).count()).toBe(0);
    // The one shown now is 2.png, marked defective above: a decided image asks first, and declining keeps it.
    await expect.poll(currentName).toBe('2.png test/broken');
    page.once('dialog', (d) => void d.dismiss());
    await page.keyboard.press('Shift+Delete');
    await page.waitForTimeout(300);
    expect(await page.locator('inp-review-queue li[data-id]').count()).toBe(2);
    // New session, confirmed: an empty list that says how to start, also after a reload.
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('new-session').click();
    await page.getByTestId('no-images').waitFor({ timeout: 30_000 });
    expect(await page.locator('inp-review-queue li[data-id]').count()).toBe(0);
    await page.reload();
    await page.getByTestId('no-images').waitFor({ timeout: 30_000 });
    await page.screenshot({ path: `${SHOTS}/workspace-new-session.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('bad input shows a visible message and keeps the session: a text file, a huge image, a model that fails to load', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${vite.url}/?backends=wasm&db=bad-${Date.now()}`);
    await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toContain('wasm');
    await page.keyboard.press('g');
    await expect.poll(() => badge(page, 'fabric-good-00').textContent()).toBe('normal');
    const count = await page.locator('inp-review-queue li[data-id]').count();

    await page.getByTestId('open-files').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are my notes, not a picture\n') });
    await expect(page.getByRole('alert').filter({ hasText: 'notes.png' }).textContent()).resolves.toContain('text file');
    expect(await page.locator('inp-review-queue li[data-id]').count()).toBe(count);

    await page.getByTestId('model-file').setInputFiles({ name: 'model.pth', mimeType: 'application/octet-stream', buffer: Buffer.from('PK\x03\x04 broken zip') });
    await expect(page.getByRole('alert').filter({ hasText: 'model could not be loaded' }).textContent()).resolves.toContain('model.pth');
    await expect.poll(() => page.getByTestId('model-card').textContent()).toContain('nsfwjs');

    await page.getByTestId('open-files').setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.from(grayPng(8000, 8000, 140)) });
    await page.getByText(/huge\.png: 8000×8000, shown and annotated at 1024×1024/).waitFor({ timeout: 90_000 });
    await expect.poll(() => page.locator('inp-review-queue li[data-id]').count()).toBe(count + 1);
    await expect.poll(() => canvasDrawn(page)).toBe(true);
    await page.screenshot({ path: `${SHOTS}/workspace-bad-input.png` });
    expect(await badge(page, 'fabric-good-00').textContent()).toBe('normal');
    expect(errors).toEqual([]);
    await page.close();
  });

  it.skipIf(!HAS_FIXTURES)(`loads an INP-Former checkpoint, proposes with it and restores it on reload${HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`}`, async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${vite.url}/?backends=wasm&db=inp-${Date.now()}`);
    await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toContain('wasm');
    await page.getByTestId('model-file').setInputFiles(fixture('inp-tiny', 'model.pth'));
    await expect.poll(() => page.getByTestId('model-card').textContent(), { timeout: 60_000 }).toContain('INP-Former');
    await expect.poll(() => page.evaluate(() => !!(document.querySelector('inp-workspace')!.shadowRoot!.querySelector('inp-image-canvas') as unknown as { map?: unknown }).map), { timeout: 60_000 }).toBe(true);
    await page.screenshot({ path: `${SHOTS}/workspace-inp-former.png` });
    // Reload: the model opened from a local file comes back from the browser's model cache.
    await page.reload();
    await page.getByText(/model\.pth: from this browser's model cache/).waitFor({ timeout: 60_000 });
    await expect.poll(() => page.getByTestId('model-card').textContent(), { timeout: 60_000 }).toContain('INP-Former · model.pth');
    expect(errors).toEqual([]);
    await page.close();
  });

  it.skipIf(!HAS_FIXTURES)(`loads a model from a URL (checkpoint, model folder) with progress, from the cache on reload; a failing URL leaves the session${HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`}`, async () => {
    // A model host on another origin (CORS, as a real one), answering slowly enough for the progress bar to show.
    const body = readFileSync(fixture('inp-tiny', 'model.pth'));
    // The same model converted to a model folder (manifest.json + weights.safetensors), served under /folder/.
    const ck = loadCheckpoint(new Uint8Array(body), 'model.pth');
    if (ck.kind !== 'inp-former') throw new Error('inp-tiny: expected an INP-Former');
    const built = await buildModelFolder(ck, { name: 'inp-tiny' });
    const folder = new Map([[MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(built.manifest))], ...built.files]);
    const hits: string[] = [];
    const host = createServer((req, res) => {
      hits.push(req.url!);
      const inFolder = req.url!.startsWith('/folder/') && folder.get(req.url!.slice('/folder/'.length));
      if (inFolder) { res.writeHead(200, { 'access-control-allow-origin': '*' }).end(inFolder); return; }
      if (req.url === '/models/page.pth') { res.writeHead(200, { 'access-control-allow-origin': '*' }).end('<html>a login page</html>'); return; }
      if (req.url !== '/models/inp-tiny.pth') { res.writeHead(404, { 'access-control-allow-origin': '*' }).end('not found'); return; }
      res.writeHead(200, { 'access-control-allow-origin': '*', 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
      const parts = 12;
      const send = (k: number) => {
        if (k === parts) { res.end(); return; }
        res.write(body.subarray(Math.floor((k * body.length) / parts), Math.floor(((k + 1) * body.length) / parts)));
        setTimeout(() => send(k + 1), 150);
      };
      send(0);
    });
    await new Promise<void>((ok) => host.listen(0, '127.0.0.1', ok));
    const origin = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${vite.url}/?backends=wasm&db=url-${Date.now()}`);
      await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toContain('wasm');
      await page.keyboard.press('g');
      await expect.poll(() => badge(page, 'fabric-good-00').textContent()).toBe('normal');
      const load = async (url: string) => {
        await page.getByTestId('model-url').fill(url);
        await page.getByTestId('model-url-load').click();
      };

      await load(`${origin}/models/missing.pth`);
      await expect(page.getByRole('alert').filter({ hasText: 'model could not be loaded' }).textContent()).resolves.toContain('missing.pth: HTTP 404');
      await expect.poll(() => page.getByTestId('model-card').textContent()).toContain('nsfwjs');
      // A URL that answers with something else: the error names the file, and it is not kept in the cache.
      await load(`${origin}/models/page.pth`);
      await expect(page.getByRole('alert').filter({ hasText: 'page.pth' }).textContent()).resolves.toContain('neither a PyTorch .pth');
      await expect.poll(() => page.evaluate(([cache, u]) => caches.open(cache).then((c) => c.match(u)).then((r) => !!r), [MODEL_CACHE, `${origin}/models/page.pth`])).toBe(false);
      await expect.poll(() => page.getByTestId('model-card').textContent()).toContain('nsfwjs');

      await load(`${origin}/models/inp-tiny.pth`);
      await expect.poll(() => page.getByTestId('model-progress').textContent()).toMatch(/download · inp-tiny\.pth · \d+\.\d\/18\.3 MB/);
      await page.screenshot({ path: `${SHOTS}/workspace-model-download.png` });
      await expect.poll(() => page.getByTestId('model-card').textContent(), { timeout: 60_000 }).toContain('INP-Former · inp-tiny.pth');
      expect(hits.filter((h) => h === '/models/inp-tiny.pth')).toHaveLength(1);

      // Reload: the model comes back from the browser's cache, without a request to its host.
      await page.reload();
      await page.getByText(/inp-tiny\.pth: from this browser's model cache/).waitFor({ timeout: 60_000 });
      await expect.poll(() => page.getByTestId('model-card').textContent(), { timeout: 60_000 }).toContain('INP-Former · inp-tiny.pth');
      expect(hits.filter((h) => h === '/models/inp-tiny.pth')).toHaveLength(1);
      expect(await badge(page, 'fabric-good-00').textContent()).toBe('normal');
      await page.screenshot({ path: `${SHOTS}/workspace-model-cached.png` });

      // A model folder by its manifest's URL: the weights are fetched next to it and checked against its sha256.
      await load(`${origin}/folder/${MANIFEST_FILE}`);
      await expect.poll(() => page.getByTestId('model-card').textContent(), { timeout: 60_000 }).toContain('INP-Former · model folder');
      expect(hits.filter((h) => h.startsWith('/folder/')).sort()).toEqual([`/folder/${MANIFEST_FILE}`, `/folder/${WEIGHTS_FILE}`]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      host.close();
    }
  });

  it('by default skips a software GPU adapter (SwiftShader) for wasm and says why; asked by name it still runs', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${vite.url}/?db=be-default-${Date.now()}`);
    await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toBe('wasm');
    expect(await page.locator('inp-model-panel div.note').textContent()).toMatch(/webgpu: software WebGPU adapter.*slower than wasm/);
    await page.screenshot({ path: `${SHOTS}/workspace-software-gpu.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  for (const [backends, want, extra] of [['wasm', 'wasm', ''], ['webgl', 'webgl', ''], ['webgpu', 'webgpu', '&input=32&size=64'], ['nonexistent,wasm', 'wasm', '']] as const) {
    it(`reports the backend it uses (?backends=${backends} → ${want}) and proposes with it`, async () => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${vite.url}/?backends=${backends}&db=be-${backends}-${Date.now()}${extra}`);
      await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toBe(want);
      if (backends.startsWith('nonexistent')) expect(await page.locator('inp-model-panel div.note').textContent()).toContain('unknown backend');
      if (want === 'webgpu') await page.screenshot({ path: `${SHOTS}/workspace-webgpu.png` });
      expect(errors).toEqual([]);
      await page.close();
    });
  }
});
