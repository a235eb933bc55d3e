import { describe, expect, it } from 'vitest';
import { maskToCocoPolygons, cocoPolygonsToMask } from '../../../src/export/coco-polygon.ts';
import { cocoArea, cocoBbox, cocoCountsToString, cocoStringToCounts, decodeCocoRle, encodeCocoRle } from '../../../src/export/coco-rle.ts';
import { decodeCvatMask, encodeCvatMask } from '../../../src/export/cvat-rle.ts';
import { decodeLabelStudioRle, encodeLabelStudioRle } from '../../../src/export/labelstudio-rle.ts';
import { tightBox } from '../../../src/image/mask.ts';
import { HAS_FIXTURES, skipReason } from '../../helpers/shared.ts';
import { expectSameMask, GOLDEN, goldenMask, pngMask } from './masks.ts';

describe.skipIf(!HAS_FIXTURES)(`fixtures/rle/golden.json, both directions${HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`}`, () => {
  it('has all 11 cases', () => {
    expect(Object.keys(GOLDEN)).toHaveLength(11);
  });

  for (const [name, g] of Object.entries(GOLDEN)) {
    describe(name, () => {
      const mask = goldenMask(g);

      it('PNG equals the JSON mask', () => {
        expectSameMask(pngMask(g), mask);
        expect(mask.data.reduce((a, v) => a + v, 0)).toBe(g.num_on);
      });

      it('COCO: counts, counts_string, area, bbox; string and counts decode to the mask', () => {
        const rle = encodeCocoRle(mask);
        expect(rle).toEqual({ size: g.coco.size, counts: g.coco.counts });
        expect(cocoCountsToString(rle.counts)).toBe(g.coco.counts_string);
        expect(cocoArea(rle)).toBe(g.coco.area);
        expect(cocoBbox(rle)).toEqual(g.coco.bbox_xywh);
        expect(cocoStringToCounts(g.coco.counts_string)).toEqual(g.coco.counts);
        const compressed = { size: g.coco.size, counts: g.coco.counts_string };
        expectSameMask(decodeCocoRle(compressed), mask);
        expectSameMask(decodeCocoRle({ size: g.coco.size, counts: g.coco.counts }), mask);
        expect(cocoArea(compressed)).toBe(g.coco.area);
        expect(cocoBbox(compressed)).toEqual(g.coco.bbox_xywh);
      });

      it('Label Studio: rle bytes; they decode to the mask', () => {
        expect(encodeLabelStudioRle(mask)).toEqual(g.labelstudio.rle);
        expectSameMask(decodeLabelStudioRle(g.labelstudio.rle, g.width, g.height), mask);
        expect(g.labelstudio.num_values).toBe(g.width * g.height * 4);
      });

      it('CVAT: points (null when empty); they decode to the mask', () => {
        expect(encodeCvatMask(mask)).toEqual(g.cvat?.points ?? null);
        if (g.cvat) {
          expect(tightBox(mask)).toEqual(g.cvat.bbox_ltrb_inclusive);
          expectSameMask(decodeCvatMask(g.cvat.points, g.width, g.height), mask);
        } else {
          // What encode_mask gives for the whole-image box is still a valid CVAT mask: it decodes to the empty mask.
          expectSameMask(decodeCvatMask(g.cvat_full_image_box_points!, g.width, g.height), mask);
        }
      });

      it('COCO polygons: traced rings rasterise back to the mask, or null when it has holes', () => {
        const polygons = maskToCocoPolygons(mask);
        if (name === 'holes_10x12') expect(polygons).toBeNull();
        else expectSameMask(cocoPolygonsToMask(polygons!, g.height, g.width), mask);
      });
    });
  }

  it('reproduces the worked examples of integrations.md §1.2, §1.3, §2.2, §3.1–3.3', () => {
    const m = goldenMask(GOLDEN.ecosystem_doc_h3_w4);
    expect(encodeLabelStudioRle(m)).toEqual([0, 0, 0, 48, 57, 27, 252, 96, 19, 255, 206, 1, 63, 253, 176, 8, 255, 227, 0, 0]);
    // rle-pack's own 19 bytes (§1.2), without the SDK's padding byte, decode the same.
    expectSameMask(decodeLabelStudioRle([0, 0, 0, 48, 57, 27, 252, 96, 19, 255, 206, 1, 63, 253, 176, 8, 255, 227, 0], 4, 3), m);
    expect(encodeCvatMask(m)).toEqual([0, 4, 1, 1, 1, 0, 2, 2]);
    expect(encodeCocoRle(m).counts).toEqual([3, 2, 1, 3, 3]);
    expect(cocoCountsToString([3, 2, 1, 3, 3])).toBe('32112');
    expect(maskToCocoPolygons(m)).toEqual([[1, 0, 3, 0, 3, 3, 2, 3, 2, 2, 1, 2]]);
  });
});
