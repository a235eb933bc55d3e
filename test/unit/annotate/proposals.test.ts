import { describe, expect, it } from 'vitest';
import { proposeRegions, toAnnotatedImage } from '../../../src/annotate/proposals.ts';
import { buildCocoDocument, parseCocoDocument } from '../../../src/export/coco-document.ts';
import { closeMask, openMask } from '../../../src/regions/morphology.ts';
import { applyThreshold } from '../../../src/threshold/calibration.ts';
import { calibrateFromNormals, manualCalibration } from '../../../src/threshold/strategies.ts';
import type { AnomalyMap } from '../../../src/types.ts';
import { expectSameMask } from '../export/masks.ts';

const MAP: AnomalyMap = {
  width: 6, height: 4, data: Float32Array.from([
    9, 8, 1, 1, 1, 1,
    1, 7, 1, 1, 1, 6,
    1, 1, 1, 1, 6, 1,
    5.5, 1, 1, 1, 1, 1,
  ]),
};
const CAL = manualCalibration(5, { min: 0, max: 10 });
const bits = (d: ArrayLike<number>) => Array.from(d).join('');

describe('proposeRegions', () => {
  it('by default the mask is exactly map > threshold, one region per 8-connected component, normalised max as score', () => {
    const p = proposeRegions(MAP, 7, CAL);
    expect(bits(p.mask.data)).toBe(bits(applyThreshold(MAP, 5).data));
    expect(p.normal).toBe(false);
    expect(p.normalizedImageScore).toBeCloseTo(0.7, 12); // no image threshold: pixel units, (7 − 5)/10 + 0.5
    expect(p.regions.map(({ id, area, bbox, maxScore, meanScore, score }) => ({ id, area, bbox, maxScore, meanScore, score }))).toEqual([
      { id: 1, area: 3, bbox: [0, 0, 2, 2], maxScore: 9, meanScore: 8, score: 0.9 },
      { id: 2, area: 2, bbox: [4, 1, 2, 2], maxScore: 6, meanScore: 6, score: expect.closeTo(0.6, 12) },
      { id: 3, area: 1, bbox: [0, 3, 1, 1], maxScore: 5.5, meanScore: 5.5, score: 0.55 },
    ]);
    expect(bits(p.regions[1].mask.data)).toBe('000000000001000010000000');
    expect(bits(p.instances)).toBe('110000' + '010002' + '000020' + '300000');
  });

  it('minArea drops small regions from regions and mask', () => {
    const p = proposeRegions(MAP, 7, CAL, { minArea: 2 });
    expect(p.regions.map((r) => r.area)).toEqual([3, 2]);
    expect(p.mask.data[18]).toBe(0);
  });

  it('smoothing is open then close of the thresholded mask', () => {
    const p = proposeRegions(MAP, 7, CAL, { smoothRadius: 1 });
    expectSameMask(p.mask, closeMask(openMask(applyThreshold(MAP, 5), 1), 1));
  });

  it('the image threshold gates: at or below it nothing is proposed; imageGate false turns that off', () => {
    const cal = manualCalibration(5, { min: 0, max: 10 }, { imageThreshold: 4, imageRange: { min: 0, max: 10 } });
    const normal = proposeRegions(MAP, 3, cal);
    expect([normal.normal, normal.regions.length, normal.mask.data.includes(1)]).toEqual([true, 0, false]);
    expect(normal.normalizedImageScore).toBeCloseTo(0.4, 12);
    expect(proposeRegions(MAP, 4, cal).normal).toBe(true);
    expect(proposeRegions(MAP, 4.5, cal).regions).toHaveLength(3);
    expect(proposeRegions(MAP, 3, cal, { imageGate: false }).regions).toHaveLength(3);
  });

  it('refuses a bad calibration, map or score', () => {
    expect(() => proposeRegions(MAP, 7, { ...CAL, pixelThreshold: 11 })).toThrow(/pixel threshold 11 is outside the score range \[0, 10\]/);
    expect(() => proposeRegions({ ...MAP, width: 5 }, 7, CAL)).toThrow(/map: has 24 values, but 5×4 needs 20/);
    expect(() => proposeRegions(MAP, NaN, CAL)).toThrow(/imageScore/);
  });

  it('normals-only calibration → proposals → COCO and back', () => {
    const normals = [0, 1, 2].map((k) => ({ width: 6, height: 4, data: Float32Array.from({ length: 24 }, (_, i) => ((i * 7 + k) % 5) / 2) }));
    const cal = calibrateFromNormals(normals, [1.5, 1.8, 2]);
    expect([cal.pixelThreshold, cal.imageThreshold]).toEqual([2, 2]);
    const defect = proposeRegions(MAP, 7, cal);
    const normal = proposeRegions(normals[0], 1.5, cal);
    expect([defect.regions.length, normal.normal]).toEqual([3, true]);
    expect(defect.regions[0].score).toBe(1); // (9 − 2)/2 + 0.5 clipped
    const images = [toAnnotatedImage('d.png', defect), toAnnotatedImage('n.png', normal)];
    const back = parseCocoDocument(JSON.stringify(buildCocoDocument(images, { model: 'm', calibration: cal })), 'coco.json');
    expect(back.map((b) => b.regions.length)).toEqual([3, 0]);
    back[0].regions.forEach((r, k) => expectSameMask(r.mask, defect.regions[k].mask));
  });
});
