import { describe, expect, it } from 'vitest';
import { matchImages, type AnnotatedImage, type ExportSource } from '../../../src/export/annotations.ts';
import { buildCocoDocument, parseCocoDocument } from '../../../src/export/coco-document.ts';
import { buildCvatXml, parseCvatXml } from '../../../src/export/cvat-xml.ts';
import { buildLabelStudioTasks, labelStudioConfig, parseLabelStudioTasks } from '../../../src/export/labelstudio-tasks.ts';
import type { BinaryMask } from '../../../src/image/mask.ts';
import { buildMaskPngs, decodeInstancePng, decodeMaskPng } from '../../../src/export/png-masks.ts';
import { parseXml } from '../../../src/export/xml.ts';
import { encodePng } from '../../../src/image/encode-png.ts';
import { HAS_FIXTURES } from '../../helpers/shared.ts';
import { expectSameMask, GOLDEN, goldenMask, maskFrom, propertyMasks } from './masks.ts';

const SOURCE: ExportSource = { model: 'inp-former-test', calibration: { method: 'manual', pixelThreshold: 0.25, min: 0, max: 1 } };

/** The 4×3 example of integrations.md: rows [[0,1,1,0],[0,1,1,0],[0,0,1,0]]. */
const DOC_MASK = maskFrom(4, 3, (x, y) => (x === 1 && y < 2) || x === 2);
const DOC_IMAGE: AnnotatedImage = { fileName: 'part_0001.png', width: 4, height: 3, score: 0.93, regions: [{ mask: DOC_MASK, score: 0.93, maxScore: 0.8, meanScore: 0.6 }] };

function expectSameImages(actual: readonly { fileName: string; width: number | null; height: number | null; regions: { mask: BinaryMask; score?: number }[] }[], expected: readonly AnnotatedImage[], scores = true): void {
  expect(actual.map((a) => a.fileName)).toEqual(expected.map((e) => e.fileName));
  actual.forEach((a, i) => {
    expect(a.regions.length, `${a.fileName}: regions`).toBe(expected[i].regions.length);
    a.regions.forEach((r, k) => {
      expectSameMask(r.mask, expected[i].regions[k].mask);
      if (scores) expect(r.score).toBe(expected[i].regions[k].score);
    });
  });
}

/** Images made of property masks: each split into (at most 3) 8-connected pieces so images carry several regions. */
function propertyImages(): AnnotatedImage[] {
  return propertyMasks(7).filter(({ mask }) => mask.width * mask.height <= 5000).map(({ name, mask }, i) => {
    const regions = [];
    // Regions here need not be connected: split the mask by column thirds (non-empty parts only).
    for (let part = 0; part < 3; part++) {
      const data = mask.data.map((v, p) => (v && Math.floor(((p % mask.width) * 3) / mask.width) === part ? 1 : 0));
      if (data.includes(1)) regions.push({ mask: { width: mask.width, height: mask.height, data }, score: 0.5 + part / 10 + i / 1000 });
    }
    return { fileName: `img-${i} ${name}.png`, width: mask.width, height: mask.height, regions };
  });
}

/**
 * A COCO reader written from the spec (cocoapi maskApi.c rleFrString + column-major rleDecode), sharing no code with
 * src/export: what a second implementation reads from our file.
 */
function independentCocoDecode(seg: { size: [number, number]; counts: string | number[] }): BinaryMask {
  const [h, w] = seg.size;
  let counts: number[];
  if (typeof seg.counts === 'string') {
    counts = [];
    const s = seg.counts;
    let p = 0;
    while (p < s.length) {
      let x = 0; let k = 0; let more = 1; let c = 0;
      while (more) {
        c = s.charCodeAt(p) - 48;
        x |= (c & 0x1f) << (5 * k);
        more = c & 0x20;
        p++; k++;
        if (!more && c & 0x10) x |= -1 << (5 * k);
      }
      if (counts.length > 2) x += counts[counts.length - 2];
      counts.push(x);
    }
  } else counts = seg.counts;
  const colMajor: number[] = [];
  counts.forEach((c, i) => { for (let j = 0; j < c; j++) colMajor.push(i % 2); });
  const data = new Uint8Array(w * h);
  for (let x = 0; x < w; x++) for (let y = 0; y < h; y++) data[y * w + x] = colMajor[x * h + y];
  return { width: w, height: h, data };
}

describe('COCO document', () => {
  it('writes the documented example exactly', () => {
    const doc = buildCocoDocument([DOC_IMAGE, { fileName: 'normal.png', width: 4, height: 3, regions: [] }], SOURCE);
    expect(doc.images).toEqual([{ id: 1, file_name: 'part_0001.png', width: 4, height: 3 }, { id: 2, file_name: 'normal.png', width: 4, height: 3 }]);
    expect(doc.categories).toEqual([{ id: 1, name: 'defect', supercategory: 'anomaly' }]);
    expect(doc.annotations).toEqual([{
      id: 1, image_id: 1, category_id: 1, segmentation: { size: [3, 4], counts: '32112' }, area: 5, bbox: [1, 0, 2, 3], iscrowd: 0, score: 0.93,
      attributes: { model: 'inp-former-test', threshold: 0.25, threshold_method: 'manual', max_score: 0.8, mean_score: 0.6 },
    }]);
    expect(doc.info).toMatchObject({ model: 'inp-former-test', calibration: SOURCE.calibration });
  });

  it('polygons when asked for, RLE for a region with a hole', () => {
    const ring = maskFrom(5, 5, (x, y) => x >= 1 && x <= 3 && y >= 1 && y <= 3 && !(x === 2 && y === 2));
    const doc = buildCocoDocument([{ fileName: 'a.png', width: 4, height: 3, regions: [{ mask: DOC_MASK }] }, { fileName: 'b.png', width: 5, height: 5, regions: [{ mask: ring }] }], SOURCE, { polygons: true });
    expect(doc.annotations[0].segmentation).toEqual([[1, 0, 3, 0, 3, 3, 2, 3, 2, 2, 1, 2]]);
    expect(doc.annotations[0].area).toBe(5);
    expect(doc.annotations[1].segmentation).toEqual({ size: [5, 5], counts: expect.any(String) });
    expect(doc.annotations[1].area).toBe(8);
    const back = parseCocoDocument(JSON.stringify(doc), 'coco.json');
    expectSameMask(back[0].regions[0].mask, DOC_MASK);
    expectSameMask(back[1].regions[0].mask, ring);
  });

  it('round trip: every image listed, same masks and scores; an independent decoder reads the same masks', () => {
    const images = [...propertyImages(), ...(HAS_FIXTURES ? Object.entries(GOLDEN).map(([name, g]) => {
      const mask = goldenMask(g);
      return { fileName: `${name}.png`, width: g.width, height: g.height, regions: mask.data.includes(1) ? [{ mask, score: 0.7 }] : [] };
    }) : [])];
    const text = JSON.stringify(buildCocoDocument(images, SOURCE));
    expectSameImages(parseCocoDocument(text, 'coco.json'), images);
    const doc = JSON.parse(text);
    expect(doc.images).toHaveLength(images.length);
    let a = 0;
    images.forEach((img, i) => img.regions.forEach((r) => {
      const ann = doc.annotations[a++];
      expect(ann.image_id).toBe(doc.images[i].id);
      expect(ann.iscrowd).toBe(0);
      expectSameMask(independentCocoDecode(ann.segmentation), r.mask);
      expect(ann.area).toBe(r.mask.data.reduce((s: number, v: number) => s + v, 0));
    }));
    expect(a).toBe(doc.annotations.length);
    // Polygons too (cocoapi's rasteriser, ported), for every region.
    expectSameImages(parseCocoDocument(JSON.stringify(buildCocoDocument(images, SOURCE, { polygons: true })), 'coco.json'), images);
  });

  it('bad input names the file and field', () => {
    const good = buildCocoDocument([DOC_IMAGE], SOURCE);
    const bad = (f: (d: any) => void) => { const d = structuredClone(good); f(d); return JSON.stringify(d); };
    expect(() => parseCocoDocument('{"images": [', 'x.json')).toThrow(/^x.json: is not valid JSON/);
    expect(() => parseCocoDocument(bad((d) => { d.annotations[0].image_id = 9; }), 'x.json')).toThrow(/x.json: annotations\[0\].image_id: 9 is not the id of an image/);
    expect(() => parseCocoDocument(bad((d) => { d.annotations[0].segmentation.size = [4, 3]; }), 'x.json')).toThrow(/annotations\[0\].segmentation.size: is \[4,3\], but image "part_0001.png" is \[3, 4\]/);
    expect(() => parseCocoDocument(bad((d) => { d.annotations[0].segmentation.counts = '321'; }), 'x.json')).toThrow(/segmentation.counts: sum to 6, but size 3×4 has 12 pixels/);
    expect(() => parseCocoDocument(bad((d) => { d.images[0].width = 0; }), 'x.json')).toThrow(/images\[0\].width: must be a positive integer/);
    expect(() => parseCocoDocument(bad((d) => { d.annotations[0].category_id = 5; }), 'x.json')).toThrow(/category_id: 5 is not a category/);
  });

  it('writers refuse a region of the wrong size, an empty region and duplicate names', () => {
    const wrong = { ...DOC_IMAGE, width: 5 };
    expect(() => buildCocoDocument([wrong], SOURCE)).toThrow(/images\[0\] \(part_0001.png\).regions\[0\].mask: is 4×3, but the image is 5×3/);
    expect(() => buildCvatXml([{ ...DOC_IMAGE, regions: [{ mask: maskFrom(4, 3, () => false) }] }], SOURCE)).toThrow(/is empty/);
    expect(() => buildLabelStudioTasks([DOC_IMAGE, DOC_IMAGE], SOURCE)).toThrow(/file name appears twice/);
  });
});

describe('Label Studio tasks', () => {
  it('writes brushlabels predictions with the documented RLE, scores and model_version', () => {
    const [task] = buildLabelStudioTasks([DOC_IMAGE], SOURCE, { imageUrl: (f) => `/data/upload/3/${f}` });
    expect(task).toEqual({
      data: { image: '/data/upload/3/part_0001.png' },
      predictions: [{
        model_version: 'inp-former-test', score: 0.93,
        result: [{
          id: 'region-1', type: 'brushlabels', from_name: 'defect', to_name: 'image', original_width: 4, original_height: 3, image_rotation: 0,
          value: { format: 'rle', rle: [0, 0, 0, 48, 57, 27, 252, 96, 19, 255, 206, 1, 63, 253, 176, 8, 255, 227, 0, 0], brushlabels: ['defect'] },
          score: 0.93, readonly: false,
        }],
      }],
    });
    expect(labelStudioConfig()).toContain('<BrushLabels name="defect" toName="image">');
    expect(labelStudioConfig()).toContain('<Label value="defect"');
  });

  it('round trip (a list of tasks; regions, scores, sizes); images without regions have no size until matched', () => {
    const images = [...propertyImages(), { fileName: 'normal.png', width: 9, height: 4, regions: [] }];
    const back = parseLabelStudioTasks(JSON.stringify(buildLabelStudioTasks(images, SOURCE)), 'ls.json');
    expectSameImages(back, images);
    expect(back.at(-1)).toMatchObject({ width: null, height: null });
    expect(matchImages(back, images, 'ls.json').at(-1)).toMatchObject({ width: 9, height: 4 });
  });

  it('reads annotations of a Label Studio export (skipping cancelled ones and other tools)', () => {
    const [task] = buildLabelStudioTasks([DOC_IMAGE], SOURCE) as any[];
    const exported = { id: 5, data: task.data, annotations: [{ was_cancelled: true, result: [] }, { result: [{ type: 'rectanglelabels', value: {} }, ...task.predictions[0].result] }] };
    const [img] = parseLabelStudioTasks(JSON.stringify(exported), 'export.json', { from: 'annotations' });
    expect(img.regions).toHaveLength(1);
    expectSameMask(img.regions[0].mask, DOC_MASK);
  });

  it('bad input names the task and field', () => {
    const text = JSON.stringify(buildLabelStudioTasks([DOC_IMAGE], SOURCE));
    expect(() => parseLabelStudioTasks(text.replace('"original_width":4', '"original_width":5'), 'ls.json')).toThrow(/ls.json: \[0\].predictions\[0\].result\[0\].value.rle: decodes to 48 values, but a 5×3 RGBA image has 60/);
    expect(() => parseLabelStudioTasks('[{"predictions": []}]', 'ls.json')).toThrow(/ls.json: \[0\]: must be a task with a "data" object/);
    expect(() => parseLabelStudioTasks('[{', 'ls.json')).toThrow(/ls.json: is not valid JSON/);
    expect(() => matchImages(parseLabelStudioTasks(text, 'ls.json'), [{ fileName: 'other.png', width: 4, height: 3 }], 'ls.json')).toThrow(/image "part_0001.png" is not one of the 1 images given/);
    expect(() => matchImages(parseLabelStudioTasks(text, 'ls.json'), [{ fileName: 'part_0001.png', width: 8, height: 6 }], 'ls.json')).toThrow(/is 4×3 in the file, but 8×6 here/);
  });
});

describe('CVAT for images 1.1 XML', () => {
  it('writes <mask> with CVAT RLE and box, and a score attribute', () => {
    const xml = buildCvatXml([DOC_IMAGE], SOURCE);
    expect(xml).toContain('<image id="0" name="part_0001.png" width="4" height="3">');
    expect(xml).toContain('<mask label="defect" source="auto" occluded="0" rle="0, 4, 1, 1" left="1" top="0" width="2" height="3" z_order="0">');
    expect(xml).toContain('<attribute name="score">0.93</attribute>');
    expect(parseXml(xml, 'x').children.map((c) => c.name)).toEqual(['version', 'meta', 'image']);
  });

  it('round trip, including names that need escaping', () => {
    const images = [...propertyImages(), { fileName: 'a & <b> "c".png', width: 3, height: 2, regions: [] }];
    expectSameImages(parseCvatXml(buildCvatXml(images, SOURCE), 'cvat.xml'), images);
    if (HAS_FIXTURES) {
      const g = GOLDEN.touches_all_borders_7x9;
      const xml = buildCvatXml([{ fileName: 'g.png', width: g.width, height: g.height, regions: [{ mask: goldenMask(g) }] }], SOURCE);
      const [l, t, r, b] = g.cvat!.points.slice(-4);
      expect(xml).toContain(`rle="${g.cvat!.points.slice(0, -4).join(', ')}" left="${l}" top="${t}" width="${r - l + 1}" height="${b - t + 1}"`);
    }
  });

  it('reads a CVAT export with other shapes, comments and entities; leaves non-mask shapes out', () => {
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<!-- exported -->
<annotations>
  <version>1.1</version>
  <image id="0" name="x&amp;y.png" width="4" height="3">
    <box label="defect" occluded="0" xtl="0" ytl="0" xbr="1" ybr="1" z_order="0"></box>
    <mask label="defect" source="manual" occluded="0" rle="0, 4, 1, 1" left="1" top="0" width="2" height="3" z_order="0"/>
  </image>
</annotations>`;
    const [img] = parseCvatXml(xml, 'in.xml');
    expect(img.fileName).toBe('x&y.png');
    expect(img.regions).toHaveLength(1);
    expectSameMask(img.regions[0].mask, DOC_MASK);
  });

  it('bad input names the file and line', () => {
    const xml = buildCvatXml([DOC_IMAGE], SOURCE);
    expect(() => parseCvatXml(xml.replace('</image>', ''), 'c.xml')).toThrow(/c.xml:\d+: malformed XML: <\/annotations> closes <image>/);
    expect(() => parseCvatXml(xml.replace('left="1"', 'left="3"'), 'c.xml')).toThrow(/c.xml:\d+ <mask> in image "part_0001.png": box \[3, 0, 4, 2\] does not lie inside the 4×3 image/);
    expect(() => parseCvatXml(xml.replace('rle="0, 4, 1, 1"', 'rle="0, 4, 1"'), 'c.xml')).toThrow(/run lengths sum to 5, but the 2×3 box has 6 pixels/);
    expect(() => parseCvatXml(xml.replace('width="4"', 'width="-4"'), 'c.xml')).toThrow(/<image> attribute width must be an integer ≥ 1/);
    expect(() => parseCvatXml('<annotations><image name="a" width="1" height="1">&bogus;</image></annotations>', 'c.xml')).toThrow(/unknown entity &bogus;/);
    expect(() => parseCvatXml('<!DOCTYPE x [<!ENTITY a "b">]><annotations/>', 'c.xml')).toThrow(/internal subset/);
    expect(() => parseCvatXml('<root/>', 'c.xml')).toThrow(/root element is <root>/);
    expect(() => parseCvatXml('', 'c.xml')).toThrow(/expected the root element/);
  });
});

describe('PNG masks', () => {
  it('a 0/255 union mask and an instance PNG per image, which read back to the same regions', () => {
    const images = propertyImages();
    const files = buildMaskPngs(images);
    expect(files.size).toBe(2 * images.length);
    for (const img of images) {
      const stem = img.fileName.replace(/\.png$/, '');
      const union = decodeMaskPng(files.get(`masks/${stem}.png`)!, stem);
      expectSameMask(union, maskFrom(img.width, img.height, (x, y) => img.regions.some((r) => r.mask.data[y * img.width + x] === 1)));
      const inst = decodeInstancePng(files.get(`masks/${stem}.instances.png`)!, stem);
      expectSameImages([{ ...inst, fileName: img.fileName }], [img], false);
    }
  });

  it('16-bit instance PNG beyond 255 regions', () => {
    const w = 40; const h = 20;
    const regions = Array.from({ length: 300 }, (_, k) => ({ mask: maskFrom(w, h, (x, y) => y * w + x === k * 2) }));
    const files = buildMaskPngs([{ fileName: 'many.png', width: w, height: h, regions }]);
    const inst = decodeInstancePng(files.get('masks/many.instances.png')!, 'many');
    expect(inst.regions).toHaveLength(300);
    expectSameMask(inst.regions[299].mask, regions[299].mask);
  });

  it('refuses colliding stems and a colour instance PNG', () => {
    expect(() => buildMaskPngs([{ ...DOC_IMAGE, fileName: 'a/x.png' }, { ...DOC_IMAGE, fileName: 'b/x.jpg' }])).toThrow(/b\/x.jpg: its mask file masks\/x.png would overwrite the one of "a\/x.png"/);
    const rgb = encodePng({ width: 2, height: 1, channels: 3, data: Uint8Array.from([1, 0, 0, 0, 0, 0]) });
    expect(() => decodeInstancePng(rgb, 'inst.png')).toThrow(/inst.png: an instance PNG must be 8- or 16-bit grayscale, got 3 channel\(s\) of 8 bits/);
    expect(() => decodeInstancePng(Uint8Array.from([1, 2, 3]), 'inst.png')).toThrow(/inst.png: cannot decode PNG/);
  });
});

describe('reviewed exports (the workspace): image verdicts and region review states', () => {
  const m = (bits: string) => { const rows = bits.split('|'); return maskFrom(rows[0].length, rows.length, (x, y) => rows[y][x] === '1'); };
  const cal = { method: 'manual' as const, pixelThreshold: 0.5, min: 0, max: 1 };
  const src: ExportSource = { model: 'ws', calibration: cal };
  const images: AnnotatedImage[] = [
    { fileName: 'bad.png', width: 4, height: 2, status: 'defective', regions: [
      { mask: m('1100|0000'), score: 0.7, review: 'accepted' }, { mask: m('0000|0011'), review: 'drawn' },
    ] },
    { fileName: 'open.png', width: 4, height: 2, status: 'unreviewed', regions: [{ mask: m('0110|0000'), score: 0.6, review: 'pending' }] },
    { fileName: 'ok.png', width: 4, height: 2, status: 'normal', regions: [] },
  ];
  const states = (im: AnnotatedImage[]) => im.map((i) => [i.fileName, i.status, i.regions.map((r) => r.review)]);

  it('COCO and CVAT carry both and read them back', () => {
    const coco = buildCocoDocument(images, src);
    expect(coco.images.map((i) => i.attributes?.status)).toEqual(['defective', 'unreviewed', 'normal']);
    expect(states(parseCocoDocument(JSON.stringify(coco), 'c.json'))).toEqual(states(images));
    const xml = buildCvatXml(images, src);
    expect(xml).toContain('<tag label="defective" source="manual"></tag>');
    expect(xml).toMatch(/<mask label="defect" source="manual"[^>]*>\s*<attribute name="score">0.7<\/attribute>\s*<attribute name="review">accepted<\/attribute>/);
    expect(xml).toMatch(/<mask label="defect" source="auto"[^>]*>\s*<attribute name="score">0.6<\/attribute>\s*<attribute name="review">pending<\/attribute>/);
    // CVAT has no tag for "not reviewed yet": an unreviewed image reads back without a verdict.
    expect(states(parseCvatXml(xml, 'c.xml'))).toEqual(states(images).map(([f, s, r]) => [f, s === 'unreviewed' ? undefined : s, r]));
  });

  it('Label Studio: reviewed work as an annotation (regions and a normal / defective choice), pending proposals as the prediction', () => {
    const tasks = buildLabelStudioTasks(images, src);
    expect(tasks[0].annotations![0].result.map((r) => r.type)).toEqual(['brushlabels', 'brushlabels', 'choices']);
    expect(tasks[0].predictions[0].result).toEqual([]);
    expect(tasks[1].annotations).toBeUndefined();
    expect(tasks[1].predictions[0].result).toHaveLength(1);
    expect(tasks[2].annotations![0].result).toEqual([{ id: 'status', type: 'choices', from_name: 'status', to_name: 'image', value: { choices: ['normal'] } }]);
    const done = parseLabelStudioTasks(JSON.stringify(tasks), 't.json', { from: 'annotations' });
    expect(done.map((i) => [i.fileName, i.status, i.regions.length])).toEqual([['bad.png', 'defective', 2], ['open.png', undefined, 0], ['ok.png', 'normal', 0]]);
    expect(parseLabelStudioTasks(JSON.stringify(tasks), 't.json').map((i) => i.regions.length)).toEqual([0, 1, 0]);
    expect(labelStudioConfig()).toContain('<Choices name="status" toName="image" choice="single" showInline="true">');
  });

  it('PNG masks: masks/review.json beside them holds the verdicts and each instance value\'s review state', () => {
    const files = buildMaskPngs(images);
    const review = JSON.parse(new TextDecoder().decode(files.get('masks/review.json')));
    expect(review.map((r: { file: string; status: string }) => [r.file, r.status])).toEqual([['bad.png', 'defective'], ['open.png', 'unreviewed'], ['ok.png', 'normal']]);
    expect(review[0].instances).toEqual([{ id: 1, review: 'accepted', score: 0.7 }, { id: 2, review: 'drawn' }]);
    expect(buildMaskPngs(images.map((i) => ({ ...i, status: undefined, regions: i.regions.map((r) => ({ mask: r.mask })) }))).has('masks/review.json')).toBe(false);
  });
});
