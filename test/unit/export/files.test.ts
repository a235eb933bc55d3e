import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AnnotatedImage, ExportSource } from '../../../src/export/annotations.ts';
import {
  readCocoFile, readCvatFile, readLabelStudioFile, readMaskPngs, writeCocoFile, writeCvatFile, writeLabelStudioFile, writeMaskPngs,
} from '../../../src/platform/node/export-files.ts';
import { InputError } from '../../../src/errors.ts';
import { expectSameMask, maskFrom } from './masks.ts';

const SOURCE: ExportSource = { model: 'm', calibration: { method: 'normals-quantile', pixelThreshold: 0.4, min: 0.1, max: 0.4 } };
const IMAGES: AnnotatedImage[] = [
  { fileName: 'a.png', width: 6, height: 5, score: 0.8, regions: [
    { mask: maskFrom(6, 5, (x, y) => x < 2 && y < 2), score: 0.9 },
    { mask: maskFrom(6, 5, (x, y) => x === 5 && y > 2), score: 0.6 },
  ] },
  { fileName: 'b.jpg', width: 3, height: 7, score: 0.2, regions: [] },
];

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'inp-export-'));
  dirs.push(d);
  return d;
}
afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

function expectSame(back: { regions: { mask: any; score?: number }[] }[]) {
  back.forEach((img, i) => {
    expect(img.regions).toHaveLength(IMAGES[i].regions.length);
    img.regions.forEach((r, k) => expectSameMask(r.mask, IMAGES[i].regions[k].mask));
  });
}

describe('export files', () => {
  it('write and read back every format (folders made as needed), leaving no temporary files', async () => {
    const out = path.join(await tmp(), 'run', 'out');
    await writeCocoFile(path.join(out, 'coco.json'), IMAGES, SOURCE);
    await writeLabelStudioFile(path.join(out, 'labelstudio.json'), IMAGES, SOURCE);
    await writeCvatFile(path.join(out, 'cvat.xml'), IMAGES, SOURCE);
    const pngs = await writeMaskPngs(out, IMAGES);
    expect(pngs.map((p) => path.relative(out, p)).sort()).toEqual(['masks/a.instances.png', 'masks/a.png', 'masks/b.instances.png', 'masks/b.png']);
    expect((await readdir(out)).sort()).toEqual(['coco.json', 'cvat.xml', 'labelstudio.json', 'masks']);
    expectSame(await readCocoFile(path.join(out, 'coco.json')));
    expectSame(await readLabelStudioFile(path.join(out, 'labelstudio.json')));
    expectSame(await readCvatFile(path.join(out, 'cvat.xml')));
    expectSame(await Promise.all(IMAGES.map((img) => readMaskPngs(out, img))));
  });

  it('an output path that cannot be written: a clear error and no file', async () => {
    const d = await tmp();
    await writeFile(path.join(d, 'blocker'), 'x');
    await expect(writeCocoFile(path.join(d, 'blocker', 'coco.json'), IMAGES, SOURCE)).rejects.toThrow(/blocker: output path exists and is not a folder/);
    await expect(writeMaskPngs(path.join(d, 'blocker'), IMAGES)).rejects.toThrow(InputError);
    // A target that is a folder: the rename fails, the temporary file is removed.
    await writeCocoFile(path.join(d, 'ok', 'coco.json'), IMAGES, SOURCE);
    await expect(writeCvatFile(path.join(d, 'ok'), IMAGES, SOURCE)).rejects.toThrow(/cannot write/);
    expect((await readdir(d)).sort()).toEqual(['blocker', 'ok']);
    expect(await readdir(path.join(d, 'ok'))).toEqual(['coco.json']);
  });

  it('bad input writes nothing; reading a missing file or a PNG of another size names the file', async () => {
    const d = await tmp();
    const wrong = [{ ...IMAGES[0], width: 7 }];
    await expect(writeCocoFile(path.join(d, 'coco.json'), wrong, SOURCE)).rejects.toThrow(/regions\[0\].mask: is 6×5, but the image is 7×5/);
    await expect(writeMaskPngs(d, wrong)).rejects.toThrow(/is 6×5, but the image is 7×5/);
    expect(await readdir(d)).toEqual([]);
    await expect(readCocoFile(path.join(d, 'nope.json'))).rejects.toThrow(/nope.json: cannot read \(ENOENT\)/);
    await writeMaskPngs(d, IMAGES);
    await expect(readMaskPngs(d, { fileName: 'a.png', width: 5, height: 5 })).rejects.toThrow(/a.png: is 6×5, but image "a.png" is 5×5/);
  });
});
