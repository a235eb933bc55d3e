import { describe, expect, it } from 'vitest';
import { cocoArea, cocoBbox, cocoCountsToString, cocoStringToCounts, decodeCocoRle, encodeCocoRle } from '../../../src/export/coco-rle.ts';
import { tightBox, type BinaryMask } from '../../../src/image/mask.ts';
import { HAS_FIXTURES } from '../../helpers/shared.ts';
import { countOn, expectSameMask, GOLDEN, propertyMasks } from './masks.ts';

/**
 * A second COCO RLE decoder, written from the spec (integrations.md §3.2–3.3) and kept deliberately naive:
 * characters → 5-bit groups → BigInt, sign from bit 0x10 of the last group, delta against counts[i−2] for i > 2;
 * then runs expanded into a flat list, 0s first, read as column-major (index x·h + y). Returns rows [h][w].
 */
function specDecode(size: [number, number], counts: number[] | string): number[][] {
  let runs: number[] = [];
  if (typeof counts === 'string') {
    let groups: number[] = [];
    for (const ch of counts) {
      const c = ch.charCodeAt(0) - 48;
      groups.push(c & 0x1f);
      if (c & 0x20) continue;
      let value = 0n;
      groups.forEach((g, k) => { value += BigInt(g) << BigInt(5 * k); });
      value = BigInt.asIntN(5 * groups.length, value);
      let x = Number(value);
      if (runs.length > 2) x += runs[runs.length - 2];
      runs.push(x);
      groups = [];
    }
  } else {
    runs = counts;
  }
  const flat: number[] = [];
  runs.forEach((r, i) => { for (let k = 0; k < r; k++) flat.push(i % 2); });
  const [h, w] = size;
  expect(flat.length).toBe(h * w);
  return Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => flat[x * h + y]));
}

function rows(m: BinaryMask): number[][] {
  return Array.from({ length: m.height }, (_, y) => Array.from(m.data.subarray(y * m.width, (y + 1) * m.width)));
}

describe('COCO RLE', () => {
  it('compressed string: the test vectors of integrations.md §3.3', () => {
    const vectors: Array<[number[], string]> = [
      [[3, 2, 1, 3, 3], '32112'],
      [[100, 3, 5, 200, 7], 'T335U62'],
      [[3, 1000, 2, 999, 40, 1], '3Xo02OV1jPO'], // includes a −1 delta
    ];
    for (const [counts, s] of vectors) {
      expect(cocoCountsToString(counts)).toBe(s);
      expect(cocoStringToCounts(s)).toEqual(counts);
    }
  });

  it('compressed string: deltas from index 3 on only (i > 2, not i ≥ 2)', () => {
    // With i ≥ 2 the third value would be written as 7 − 5 = 2 ('2'); cocoapi writes 7 itself.
    expect(cocoCountsToString([5, 1, 7])).toBe('517');
    expect(cocoCountsToString([5, 1, 7, 1])).toBe('5170');
  });

  it('compressed string: counts beyond 32 bits, as cocoapi rleToString writes them', () => {
    // Produced by maskApi.c rleToString (cocoapi 8c9bcc3) via ctypes. Its rleFrString shifts 32-bit ints and misreads
    // groups past bit 30, so pycocotools cannot read these back; we can.
    const vectors: Array<[number[], string]> = [
      [[2 ** 31 + 5, 3, 2 ** 32 - 100, 7], 'UPPPPP23lloooo34'],
      [[0, 2 ** 30, 1, 2 ** 30 + 17, 5], '0PPPPPP11a04'],
      [[2 ** 29, 1, 2 ** 29 - 1, 3], 'PPPPP`01ooooo?2'],
    ];
    for (const [counts, s] of vectors) {
      expect(cocoCountsToString(counts)).toBe(s);
      expect(cocoStringToCounts(s)).toEqual(counts);
    }
  });

  it('bbox: an on-run wrapping into the next column spans the full height (rleToBbox)', () => {
    // 4×3, column-major: on pixels (x 0, y 2) and (x 1, y 0) form one run across the column boundary.
    expect(cocoBbox({ size: [3, 4], counts: [2, 2, 8] })).toEqual([0, 0, 2, 3]);
    expect(cocoBbox({ size: [3, 4], counts: [12] })).toEqual([0, 0, 0, 0]);
    // An empty on-run is skipped (rleToBbox would count the pixel before it).
    expect(cocoBbox({ size: [3, 4], counts: [5, 0, 7] })).toEqual([0, 0, 0, 0]);
    expect(cocoArea({ size: [3, 4], counts: [5, 0, 2, 3, 2] })).toBe(3);
  });

  it.skipIf(!HAS_FIXTURES)('the spec decoder agrees with the golden masks (it is a valid second opinion)', () => {
    for (const g of Object.values(GOLDEN)) {
      expect(specDecode(g.coco.size, g.coco.counts)).toEqual(g.mask);
      expect(specDecode(g.coco.size, g.coco.counts_string)).toEqual(g.mask);
    }
  });

  describe('round trips (property tests)', () => {
    for (const { name, mask } of propertyMasks(20240601)) {
      it(name, () => {
        const rle = encodeCocoRle(mask);
        const s = cocoCountsToString(rle.counts);
        expect(rle.counts.reduce((a, c) => a + c, 0)).toBe(mask.width * mask.height);
        expect(rle.counts.slice(1).every((c) => c > 0)).toBe(true);
        expect(cocoStringToCounts(s)).toEqual(rle.counts);
        expectSameMask(decodeCocoRle(rle), mask);
        expectSameMask(decodeCocoRle({ size: rle.size, counts: s }), mask);
        expect(cocoArea(rle)).toBe(countOn(mask));
        const box = tightBox(mask);
        expect(cocoBbox({ size: rle.size, counts: s })).toEqual(box ? [box[0], box[1], box[2] - box[0] + 1, box[3] - box[1] + 1] : [0, 0, 0, 0]);
        if (mask.data.length <= 5000) {
          expect(specDecode(rle.size, rle.counts)).toEqual(rows(mask));
          expect(specDecode(rle.size, s)).toEqual(rows(mask));
        }
      });
    }
  });
});
