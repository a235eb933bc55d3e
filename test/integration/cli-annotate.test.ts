import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { JOURNAL_DIR, openJournal } from '../../integrations/cli/journal.ts';
import { fitRegionsToPeaks } from '../../src/regions/peak-level.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCocoFile, readCvatFile, readLabelStudioFile, readMaskPngs } from '../../src/platform/node/export-files.ts';
import { matchImages } from '../../src/export/annotations.ts';
import { encodePng } from '../../src/image/encode-png.ts';
import { decodeNpy } from '../../src/io/npy.ts';
import { makeSampleSet } from '../../src/samples/surfaces.ts';
import { cli } from '../helpers/cli.ts';

/** Union of an image's region masks. */
const union = (im: { width: number; height: number; regions: { mask: { data: Uint8Array } }[] }) => {
  const u = new Uint8Array(im.width * im.height);
  for (const r of im.regions) r.mask.data.forEach((v, i) => { if (v) u[i] = 1; });
  return u;
};

describe('inp-former annotate: maps → masks in every format', () => {
  let root: string;
  let model: string;
  let normals: string;
  let images: string;
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'inp-annotate-'));
    const all = makeSampleSet('fabric', { normals: 14, perDefect: 2, size: 96, defects: ['hole', 'stain'] });
    const dirs = { train: path.join(root, 'train'), normals: path.join(root, 'normals'), images: path.join(root, 'images') };
    Object.values(dirs).forEach((d) => mkdirSync(d));
    const png = (s: (typeof all)[number]) => encodePng({ ...s.image, channels: 3 });
    all.filter((s) => !s.defect).forEach((s, i) => writeFileSync(path.join(i < 8 ? dirs.train : i < 12 ? dirs.normals : dirs.images, `${s.name}.png`), png(s)));
    all.filter((s) => s.defect).forEach((s) => writeFileSync(path.join(dirs.images, `${s.name}.png`), png(s)));
    ({ normals, images } = dirs);
    model = path.join(root, 'model');
    expect((await cli('fit-knn', '-e', 'nsfwjs-mobilenetv2', '-d', dirs.train, '-o', model, '--size', '96', '--coreset', '1')).code).toBe(0);
  });

  it('thresholds from normals, lists every image, and all four formats read back to the same masks', async () => {
    const out = path.join(root, 'out-normals');
    const r = await cli('annotate', '-m', model, images, '-o', out, '--threshold-from', normals, '--protocol', 'annotate');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/annotate: 6 images, \d+ with proposals .*normals-quantile.*masks at image size/);
    const coco = await readCocoFile(path.join(out, 'coco.json'));
    expect(coco.map((c) => c.fileName).sort()).toEqual(readdirSync(images).sort());
    const doc = JSON.parse(readFileSync(path.join(out, 'coco.json'), 'utf8'));
    expect(doc.info.calibration.method).toBe('normals-quantile');
    for (const a of doc.annotations) {
      expect(a.iscrowd).toBe(0);
      expect(typeof a.segmentation.counts).toBe('string'); // RLE by default
      expect(a.attributes.model).toBe('knn-nsfwjs-mobilenetv2');
    }
    const known = coco.map((c) => ({ fileName: c.fileName, width: c.width, height: c.height }));
    const cvat = await readCvatFile(path.join(out, 'cvat.xml'));
    const ls = matchImages(await readLabelStudioFile(path.join(out, 'labelstudio.json')), known, 'labelstudio.json');
    for (const im of coco) {
      expect(im.width).toBe(96);
      const png = await readMaskPngs(out, im);
      const want = union(im);
      expect(union(png)).toEqual(want);
      expect(union(cvat.find((c) => c.fileName === im.fileName)!)).toEqual(want);
      expect(union(ls.find((c) => c.fileName === im.fileName)!)).toEqual(want);
    }
    // The defects are found: every defective image gets a proposal.
    expect(coco.filter((c) => /hole|stain/.test(c.fileName)).every((c) => c.regions.length > 0)).toBe(true);
  });

  it('after kill -9 mid-run, a rerun with the same arguments takes the done images from the journal, runs the rest, and ends with the same outputs', async () => {
    // 48 images, so the run is still going when the test kills it.
    const many = path.join(root, 'many');
    mkdirSync(many);
    for (let k = 0; k < 8; k++) for (const f of readdirSync(images)) writeFileSync(path.join(many, `${k}-${f}`), readFileSync(path.join(images, f)));
    const args = ['annotate', '-m', model, many, '-o', '', '--threshold-from', normals, '--protocol', 'annotate'];
    const clean = path.join(root, 'out-clean');
    expect((await cli(...args.map((a) => (a === '' ? clean : a)))).code).toBe(0);
    expect(existsSync(path.join(clean, JOURNAL_DIR))).toBe(false);

    const out = path.join(root, 'out-killed');
    const journal = path.join(out, JOURNAL_DIR);
    const child = spawn(process.execPath, [path.resolve('bin/inp-former.js'), ...args.map((a) => (a === '' ? out : a))], { stdio: 'ignore' });
    // Killed (SIGKILL: no handler runs) once two images are journaled, before the outputs are written.
    for (let t = 0; t < 3000 && !(existsSync(journal) && readdirSync(journal).filter((n) => n.endsWith('.json')).length >= 2); t++) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const journaled = readdirSync(journal).filter((n) => n.endsWith('.json')).length;
    expect(journaled).toBeGreaterThanOrEqual(2);
    expect(existsSync(path.join(out, 'coco.json'))).toBe(false);

    const r = await cli(...args.map((a) => (a === '' ? out : a)));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(new RegExp(`resumed (${journaled}|${journaled + 1}) image\\(s\\) from an interrupted run`));
    expect(existsSync(journal)).toBe(false);
    const want = await readCocoFile(path.join(clean, 'coco.json'));
    const got = await readCocoFile(path.join(out, 'coco.json'));
    expect(got.map((c) => c.fileName).sort()).toEqual(want.map((c) => c.fileName).sort());
    for (const im of want) expect(union(got.find((c) => c.fileName === im.fileName)!)).toEqual(union(im));
    for (const f of ['labelstudio.json', 'cvat.xml']) expect(readdirSync(out)).toContain(f);
    // Other settings do not reuse a journal: with a different threshold nothing is resumed.
    await openJournal(out, { other: true }).then((j) => j.put(path.join(many, readdirSync(many)[0]), { fileName: 'x', width: 1, height: 1, regions: [] }));
        expect((await cli(...args.map((a) => (a === '' ? out : a)), '--quantile', '0.99')).err).not.toMatch(/resumed/);
  }, 120_000);

  it('skips a corrupt image and names it: every format holds the others, failures.json lists it, exit status 3; clears what a killed run left', async () => {
    const mixed = path.join(root, 'mixed');
    mkdirSync(mixed);
    for (const f of readdirSync(images).slice(0, 2)) writeFileSync(path.join(mixed, f), readFileSync(path.join(images, f)));
    writeFileSync(path.join(mixed, 'zz-broken.png'), readFileSync(path.join(images, readdirSync(images)[0])).subarray(0, 50));
    const out = path.join(root, 'out-mixed');
    // What a run killed mid-write (kill -9) leaves: temporaries, which the next run clears.
    mkdirSync(path.join(out, 'masks'), { recursive: true });
    writeFileSync(path.join(out, '.coco.json.4242.1700000000000.tmp'), '{"partial');
    writeFileSync(path.join(out, 'masks', '.a.png.4242.1700000000000.tmp'), 'partial');
    const r = await cli('annotate', '-m', model, mixed, '-o', out, '--threshold-from', normals, '--protocol', 'annotate');
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/annotate: skipped .*zz-broken\.png/);
    expect((await readCocoFile(path.join(out, 'coco.json'))).map((c) => c.fileName).sort()).toEqual(readdirSync(images).slice(0, 2).sort());
    expect(JSON.parse(readFileSync(path.join(out, 'failures.json'), 'utf8')).map((f: { file: string }) => path.basename(f.file))).toEqual(['zz-broken.png']);
    expect([...readdirSync(out), ...readdirSync(path.join(out, 'masks'))].filter((n) => n.endsWith('.tmp'))).toEqual([]);
    for (const f of ['coco.json', 'labelstudio.json', 'cvat.xml']) expect(readdirSync(out)).toContain(f);
  });

  it('--threshold X gives exactly map > X at the map size under the official protocol; --region-level fits each region', async () => {
    const maps = path.join(root, 'maps');
    expect((await cli('predict', '-m', model, images, '-o', maps, '--save-maps')).code).toBe(0);
    const file = readdirSync(images).find((f) => f.includes('hole'))!;
    const map = decodeNpy(readFileSync(path.join(maps, 'maps', file.replace('.png', '.npy'))));
    const sorted = Float32Array.from(map.data).sort();
    const X = sorted[Math.floor(sorted.length * 0.98)];
    const out = path.join(root, 'out-manual');
    const r = await cli('annotate', '-m', model, images, '-o', out, '--threshold', String(X), '--format', 'coco,png');
    expect(r.code).toBe(0);
    expect(existsSync(path.join(out, 'cvat.xml'))).toBe(false);
    const im = (await readCocoFile(path.join(out, 'coco.json'))).find((c) => c.fileName === file)!;
    expect([im.width, im.height]).toEqual([map.shape[1], map.shape[0]]);
    const want = Uint8Array.from(map.data, (v) => (v > X ? 1 : 0));
    expect(union(im)).toEqual(want);
    // --region-level fits each region to its peak (regions/peak-level.ts): the same maps, cut by the same function.
    const fitted = path.join(root, 'out-fitted');
    expect((await cli('annotate', '-m', model, images, '-o', fitted, '--threshold', String(X), '--region-level', '0.6', '--format', 'coco')).code).toBe(0);
    const fim = (await readCocoFile(path.join(fitted, 'coco.json'))).find((c) => c.fileName === file)!;
    const mapImage = { width: map.shape[1], height: map.shape[0], data: Float32Array.from(map.data) };
    expect(union(fim)).toEqual(fitRegionsToPeaks({ width: mapImage.width, height: mapImage.height, data: want }, mapImage, 0.6).data);
    expect((await cli('annotate', '-m', model, images, '-o', fitted, '--region-level', '2')).err).toMatch(/--region-level must be a number between 0 and 1/);
  });

  it('refuses a threshold outside the score range, a model without calibration, and an unwritable output, writing nothing', async () => {
    const out = path.join(root, 'out-bad');
    let r = await cli('annotate', '-m', model, images, '-o', out, '--threshold', '1e9');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--threshold: 1000000000 is outside the maps' score range/);
    expect(existsSync(out)).toBe(false);
    r = await cli('annotate', '-m', model, images, '-o', out);
    expect(r.err).toMatch(/has no saved calibration: give --threshold X/);
    const blocker = path.join(root, 'a-file');
    writeFileSync(blocker, 'x');
    r = await cli('annotate', '-m', model, images, '-o', path.join(blocker, 'sub'), '--threshold-from', normals);
    expect(r.code).toBe(1);
    expect(r.err).toContain(path.join(blocker, 'sub'));
  });
});
