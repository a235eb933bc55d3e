import { readFileSync } from 'node:fs';
import { decode as decodePng } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { cocoArea, cocoBbox, cocoCountsToString, cocoStringToCounts, decodeCocoRle, encodeCocoRle } from '../../src/export/coco-rle.ts';
import { decodeCvatMask, encodeCvatMask } from '../../src/export/cvat-rle.ts';
import { decodeLabelStudioRle, encodeLabelStudioRle } from '../../src/export/labelstudio-rle.ts';
import type { BinaryMask } from '../../src/export/mask.ts';
import { fixture, HAS_FIXTURES, loadFixtureJson, skipReason } from '../helpers/shared.ts';

/** A second, deliberately naive COCO RLE decoder written from the spec (column-major runs, 0s first). */
function naiveCocoDecode(size: [number, number], counts: number[]): number[][] {
  const [h, w] = size;
  const flat: number[] = [];
  counts.forEach((c, i) => { for (let k = 0; k < c; k++) flat.push(i % 2); });
  return Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => flat[x * h + y]));
}

describe.skipIf(!HAS_FIXTURES)(`RLE codecs reproduce fixtures/rle${HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`}`, () => {
  const golden = HAS_FIXTURES ? loadFixtureJson('rle', 'golden.json').masks : {};
  for (const [name, g] of Object.entries<any>(golden)) {
    it(name, () => {
      const data = Uint8Array.from((g.mask as number[][]).flat());
      const m: BinaryMask = { width: g.width, height: g.height, data };
      const png = decodePng(readFileSync(fixture('rle', g.png)));
      expect(Array.from(png.data as Uint8Array, (v) => (v ? 1 : 0))).toEqual(Array.from(data));
      const coco = encodeCocoRle(m);
      expect(coco.size).toEqual(g.coco.size);
      expect(coco.counts).toEqual(g.coco.counts);
      expect(cocoCountsToString(coco.counts)).toBe(g.coco.counts_string);
      expect(cocoStringToCounts(g.coco.counts_string)).toEqual(g.coco.counts);
      expect(cocoArea(coco)).toBe(g.coco.area);
      expect(cocoBbox(coco)).toEqual(g.coco.bbox_xywh);
      expect(decodeCocoRle({ size: g.coco.size, counts: g.coco.counts_string }).data).toEqual(data);
      expect(naiveCocoDecode(coco.size, coco.counts)).toEqual(g.mask);
      expect(encodeLabelStudioRle(m)).toEqual(g.labelstudio.rle);
      expect(decodeLabelStudioRle(g.labelstudio.rle, g.width, g.height).data).toEqual(data);
      expect(encodeCvatMask(m)).toEqual(g.cvat ? g.cvat.points : null);
      if (g.cvat) expect(decodeCvatMask(g.cvat.points, g.width, g.height).data).toEqual(data);
    });
  }
});

describe('RLE round trips (property tests)', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const shapes: Array<[number, number, string]> = [[1, 1, 'random'], [1, 1, 'full'], [1, 1, 'empty'], [7, 5, 'random'], [13, 1, 'random'], [1, 17, 'random'],
    [33, 19, 'blobs'], [64, 48, 'empty'], [64, 48, 'full'], [300, 250, 'full'], [129, 257, 'blobs']];
  for (let k = 0; k < 20; k++) shapes.push([1 + Math.floor(rand() * 60), 1 + Math.floor(rand() * 60), k % 2 ? 'random' : 'blobs']);
  for (const [w, h, kind] of shapes) {
    it(`${kind} ${w}×${h}`, () => {
      const data = new Uint8Array(w * h);
      const cx = rand() * w; const cy = rand() * h; const r = rand() * Math.max(w, h) * 0.4;
      for (let i = 0; i < data.length; i++) {
        const x = i % w; const y = Math.floor(i / w);
        data[i] = kind === 'full' ? 1 : kind === 'empty' ? 0 : kind === 'random' ? (rand() < 0.3 ? 1 : 0) : ((x - cx) ** 2 + (y - cy) ** 2 < r * r ? 1 : 0);
      }
      const m = { width: w, height: h, data };
      const coco = encodeCocoRle(m);
      expect(decodeCocoRle(coco).data).toEqual(data);
      expect(decodeCocoRle({ size: coco.size, counts: cocoCountsToString(coco.counts) }).data).toEqual(data);
      expect(decodeLabelStudioRle(encodeLabelStudioRle(m), w, h).data).toEqual(data);
      const cv = encodeCvatMask(m);
      if (cv) expect(decodeCvatMask(cv, w, h).data).toEqual(data);
      else expect(data.every((v) => v === 0)).toBe(true);
    });
  }
});

describe('RLE bad input', () => {
  it('names what is wrong', () => {
    expect(() => decodeCocoRle({ size: [2, 2], counts: [1, 2] })).toThrow(/counts: sum to 3, but size 2×2 has 4 pixels/);
    expect(() => decodeCocoRle({ size: [2, 2], counts: [1, -1, 4] })).toThrow(/counts\[1\]: must be a non-negative integer/);
    expect(() => decodeCocoRle({ size: [2, 2], counts: '3~' })).toThrow(/invalid character/);
    expect(() => decodeCocoRle({ size: [2, 2], counts: '3\\' })).toThrow(/ends in the middle/);
    expect(() => decodeLabelStudioRle(encodeLabelStudioRle({ width: 2, height: 2, data: new Uint8Array(4) }), 3, 3)).toThrow(/decodes to 16 values, but a 3×3 RGBA image has 36/);
    expect(() => decodeCvatMask([0, 1, 0, 0, 5, 0], 4, 4)).toThrow(/box \[0, 0, 5, 0\] does not lie inside the 4×4 image/);
    expect(() => decodeCvatMask([0, 3, 0, 0, 1, 0], 4, 4)).toThrow(/run lengths sum to 3/);
  });
});
