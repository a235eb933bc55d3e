import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_CHROMIUM, launchChromium } from '../browser/chromium.ts';
import { canvasDrawn } from '../browser/workspace-page.ts';
import { serveFolder } from '../helpers/static-server.ts';
import { encodePng } from '../../src/image/encode-png.ts';
import { makeSample } from '../../src/samples/surfaces.ts';

/**
 * The package as a stranger gets it: `npm pack`, installed into a fresh project offline (from the npm cache that
 * `npm ci` filled; package metadata it lacks comes from the registry once), then the README's "Use as a library" example run exactly as printed in plain Node ESM, and a
 * consumer file importing every typed entry checked with `tsc --strict`.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let work: string;
let tarball: string;

/** The README's code block under `<!-- name -->`, as printed. */
function readmeBlock(name: string): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- ${name} -->\\n\`\`\`js\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!m) throw new Error(`README.md has no ${name} block`);
  return m[1];
}

function dirSize(dir: string): number {
  const out = execFileSync('du', ['-sk', dir], { encoding: 'utf8' });
  return Number(out.split('\t')[0]) * 1024;
}

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'inp-consumer-'));
  // Built here, not by `prepare`: the repository's .npmrc sets ignore-scripts (for onnxruntime-node's offline
  // install), so no lifecycle script runs in this checkout, and a fresh clone has no dist/ until this.
  execFileSync(NPM, ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const packed = JSON.parse(execFileSync(NPM, ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  tarball = path.join(work, packed[0].filename);
  const app = path.join(work, 'app');
  mkdirSync(path.join(app, 'normal'), { recursive: true });
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync(NPM, ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  for (let i = 0; i < 8; i++) writeFileSync(path.join(app, 'normal', `n${i}.png`), encodePng({ ...makeSample('fabric', null, i, 128).image, channels: 3 }));
  writeFileSync(path.join(app, 'part.png'), encodePng({ ...makeSample('fabric', 'hole', 50, 128).image, channels: 3 }));
}, 600_000);

afterAll(() => { if (work) rmSync(work, { recursive: true, force: true }); });

describe('the packed package in a fresh project', () => {
  it('carries the built entries and no tests, benchmarks or CI files', () => {
    const listed = JSON.parse(execFileSync(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))[0];
    const files: string[] = listed.files.map((f: { path: string }) => f.path);
    for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/node.js', 'dist/src/node.d.ts', 'dist/integrations/cli/main.js', 'bin/inp-former.js']) expect(files).toContain(f);
    expect(files.filter((f) => /^(test|bench|\.ci|integrations)\//.test(f))).toEqual([]);
    // The custom-elements manifest (package.json "customElements") describes every element: properties and events.
    const cem = JSON.parse(readFileSync(path.join(work, 'app/node_modules/inp-former-annotate/dist/custom-elements.json'), 'utf8'));
    const elements = cem.modules.flatMap((m: { declarations?: Array<{ tagName?: string; members?: Array<{ kind: string; name: string }>; events?: Array<{ name: string }> }> }) => m.declarations ?? []).filter((d: { tagName?: string }) => d.tagName);
    const knob = elements.find((d: { tagName?: string }) => d.tagName === 'inp-sensitivity');
    expect(elements.map((d: { tagName: string }) => d.tagName).sort()).toEqual(['inp-export-menu', 'inp-image-canvas', 'inp-model-panel', 'inp-review-queue', 'inp-sensitivity', 'inp-shortcut-help', 'inp-workspace']);
    expect(knob.members.map((m: { name: string }) => m.name)).toEqual(expect.arrayContaining(['value', 'method', 'raw', 'disabled']));
    expect(knob.events.map((e: { name: string }) => e.name)).toEqual(['inp-sensitivity-input', 'inp-sensitivity-scope']);
    console.log(`package: ${files.length} files, tarball ${(statSync(tarball).size / 1e6).toFixed(2)} MB, unpacked ${(listed.unpackedSize / 1e6).toFixed(2)} MB, installed with dependencies ${(dirSize(path.join(work, 'app', 'node_modules')) / 1e6).toFixed(0)} MB`);
  });

  it("runs the README's library example as printed, in plain Node", () => {
    const app = path.join(work, 'app');
    writeFileSync(path.join(app, 'example.mjs'), readmeBlock('consumer-example'));
    const r = spawnSync(process.execPath, ['example.mjs'], { cwd: app, encoding: 'utf8', timeout: 300_000 });
    expect(r.stderr).not.toMatch(/Error|ERR_/);
    expect(r.status).toBe(0);
    const m = /part\.png: score ([\d.]+), (\d+) proposed region/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0.5);
    expect(Number(m![2])).toBeGreaterThan(0);
    const coco = JSON.parse(readFileSync(path.join(app, 'coco.json'), 'utf8'));
    expect(coco.annotations.length).toBe(Number(m![2]));
  }, 300_000);

  it('runs its CLI from the installed bin (built JavaScript, no tsx)', () => {
    const app = path.join(work, 'app');
    const r = spawnSync(path.join(app, 'node_modules/.bin/inp-former'), ['--help'], { cwd: app, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/fit-knn/);
  });

  it('serves as the CVAT function folder: main.js under Nuclio\'s calling convention, on the installed package (no source checkout)', () => {
    const app = path.join(work, 'app');
    const fn = path.join(work, 'function');
    mkdirSync(fn);
    for (const f of ['main.js', 'package.json', 'function.yaml', 'Dockerfile']) copyFileSync(path.join(ROOT, 'integrations/cvat/function', f), path.join(fn, f));
    // function.yaml's postCopy installs the packed tarball beside main.js; the app's install of the same tarball stands in.
    expect(readFileSync(path.join(fn, 'function.yaml'), 'utf8')).toContain('npm install --omit=dev --no-audit --no-fund ./inp-former-annotate-*.tgz');
    expect(path.basename(tarball)).toMatch(/^inp-former-annotate-[\d.]+\.tgz$/);
    symlinkSync(path.join(app, 'node_modules'), path.join(fn, 'node_modules'));
    const fit = spawnSync(path.join(app, 'node_modules/.bin/inp-former'), ['fit-knn', '-e', 'nsfwjs-mobilenetv2', '-d', 'normal', '-o', path.join(fn, 'model'), '--size', '128'], { cwd: app, encoding: 'utf8' });
    expect(fit.status, fit.stderr).toBe(0);
    const script = `
      const main = require('./main.js');
      const context = { Response: function (body, headers, contentType, statusCode) { Object.assign(this, { body, contentType, statusCode }); },
        callback: (r) => { process.stdout.write(JSON.stringify(r)); } };
      main.initContext(context);
      main.handler(context, { body: Buffer.from(process.env.BODY) });`;
    const r = spawnSync(process.execPath, ['-e', script], {
      cwd: fn, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, timeout: 300_000,
      env: { ...process.env, INP_FORMER_ROOT: '/nonexistent', INP_FORMER_ARGS: `-m ${path.join(fn, 'model')} --threshold-from ${path.join(app, 'normal')}`, BODY: JSON.stringify({ image: readFileSync(path.join(app, 'part.png')).toString('base64'), threshold: 0.5 }) },
    });
    const res = JSON.parse(r.stdout);
    expect(res, r.stderr).toMatchObject({ statusCode: 200, contentType: 'application/json' });
    const shapes = JSON.parse(res.body);
    expect(shapes.length).toBeGreaterThan(0);
    expect(shapes[0]).toMatchObject({ label: 'defect', type: 'mask' });
    expect(shapes[0].points.length).toBeGreaterThanOrEqual(6);
  }, 300_000);

  it.skipIf(!HAS_CHROMIUM)("builds a Vite page importing the elements and the root API; in Chromium a property renders, a typed event arrives, the API runs and the workspace runs its worker", async () => {
    const app = path.join(work, 'app');
    mkdirSync(path.join(app, 'web'), { recursive: true });
    writeFileSync(path.join(app, 'web/index.html'), '<!doctype html><meta charset="utf-8"><inp-sensitivity id="knob"></inp-sensitivity><script type="module" src="./main.js"></script><script type="module" src="./api.js"></script>');
    // The root API in the same browser bundle, from plain JavaScript: pixels → PNG → pixels, a map → proposals → COCO.
    writeFileSync(path.join(app, 'web/api.js'), [
      "import { buildCocoDocument, decodeImage, encodePng, manualCalibration, proposeRegions, toAnnotatedImage } from 'inp-former-annotate';",
      'const width = 8, height = 8;',
      'const rgb = new Uint8Array(width * height * 3).map((_, i) => i % 251);',
      "const back = decodeImage(encodePng({ width, height, channels: 3, data: rgb }), 'round-trip.png');",
      'const map = { width, height, data: new Float32Array(width * height).map((_, i) => (i % width > 4 && i < 40 ? 0.9 : 0.1)) };',
      'const calibration = manualCalibration(0.5, { min: 0, max: 1 });',
      "const coco = buildCocoDocument([toAnnotatedImage('part.png', proposeRegions(map, 0.9, calibration))], { model: 'demo', calibration });",
      'window.apiResult = { same: back.data.every((v, i) => v === rgb[i]), annotations: coco.annotations.length, area: coco.annotations[0]?.area };',
    ].join('\n'));
    writeFileSync(path.join(app, 'web/main.js'), readmeBlock('consumer-elements'));
    const b = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'web', '--outDir', '../web-dist', '--emptyOutDir', '--logLevel', 'error'], { cwd: app, encoding: 'utf8' });
    expect(b.stderr).toBe('');
    expect(b.status).toBe(0);
    const site = await serveFolder(path.join(app, 'web-dist'));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const logged: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => logged.push(m.text()));
      await page.goto(`${site.url}/index.html`);
      await expect.poll(() => page.locator('#knob [data-testid="sensitivity-value"]').textContent()).toBe('0.80');
      await page.locator('#knob input[type=range]').fill('0.3');
      await expect.poll(() => logged).toContain('sensitivity 0.3');
      await expect.poll(() => page.evaluate(() => (window as unknown as { apiResult?: unknown }).apiResult)).toEqual({ same: true, annotations: 1, area: 15 });
      await expect.poll(() => canvasDrawn(page), { timeout: 60_000 }).toBe(true);
      // The README's order: webgpu where the browser offers it, else wasm.
      await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toMatch(/webgpu|wasm/);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await site.close();
    }
  }, 300_000);

  it('type-checks a strict consumer importing every typed entry', () => {
    const app = path.join(work, 'app');
    writeFileSync(path.join(app, 'consumer.ts'), [
      "import { createAnomalyDetector, fitKnn, openModel, type AnomalyDetector, type Progress, type RgbImage } from 'inp-former-annotate';",
      "import { loadDetector, nsfwjsWeights, readImage } from 'inp-former-annotate/node';",
      "import { SensitivityControl, type InpEvents } from 'inp-former-annotate/components';",
      "import { SensitivityControl as Knob } from 'inp-former-annotate/components/sensitivity-control';",
      "export const sameClass: boolean = Knob === SensitivityControl;",
      "export const knob: SensitivityControl = new SensitivityControl();",
      "export const onInput = (e: CustomEvent<InpEvents['inp-sensitivity-input']>): number => e.detail.value;",
      'export async function run(images: RgbImage[]): Promise<number> {',
      '  const encoderWeights = await nsfwjsWeights();',
      '  const events: Progress[] = [];',
      '  const model = await fitKnn(images, { encoderWeights, onProgress: (p) => events.push(p) });',
      '  const d: AnomalyDetector = await createAnomalyDetector(model, { encoderWeights });',
      '  const { map, score } = await d.detect(await readImage("part.png"));',
      '  const other = await loadDetector("model-dir");',
      '  void openModel; other.dispose(); d.dispose();',
      '  return map.data.length + score + events.length;',
      '}',
    ].join('\n'));
    writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom', 'dom.iterable'], skipLibCheck: false, types: [] },
      files: ['consumer.ts'],
    }));
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: app, encoding: 'utf8' });
    // skipLibCheck is off so our .d.ts files are checked too; tfjs's own declarations have errors under strict
    // (and @webgpu/types clashes with lib.dom), which are not ours to fix: only errors in our files count.
    const ours = (r.stdout + r.stderr).split('\n').filter((l) => /^(consumer\.ts|node_modules\/inp-former-annotate\/)/.test(l));
    expect(ours).toEqual([]);
    expect(r.stdout).toMatch(/tfjs|lib\.dom|^$/);
  }, 120_000);
});
