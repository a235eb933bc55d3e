import { describe, expect, it } from 'vitest';
import { proposeRegions } from '../../../src/annotate/proposals.ts';
import { backgroundLevel, fitRegionsToPeaks } from '../../../src/regions/peak-level.ts';
import { applyThreshold } from '../../../src/threshold/calibration.ts';

/**
 * An 11×1 map on a background of 0: a strong bump (peak 10) whose skirt clears the threshold 2, and a weak one
 * (peak 3) of which the threshold keeps only the tip.
 */
const map = { width: 11, height: 1, data: Float32Array.from([0, 3, 6, 10, 6, 3, 0, 1, 2, 3, 1.8]) };
const thresholded = applyThreshold(map, 2);

describe('fitRegionsToPeaks', () => {
  it('the background is the median score', () => {
    expect(backgroundLevel(map)).toBe(3);
    expect(backgroundLevel({ width: 3, height: 1, data: Float32Array.from([5, -1, 0]) })).toBe(0);
  });
  it('cuts a strong region to the share of its rise above the background; a region at the background keeps its peak', () => {
    expect(Array.from(thresholded.data)).toEqual([0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0]);
    // Background 3 (the median). Strong: cut 3 + 0.5·7 = 6.5 → only the peak 10. Weak (peak 3): its peak alone.
    expect(Array.from(fitRegionsToPeaks(thresholded, map, 0.5).data)).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]);
    // Lower level: strong cut 3 + 0.25·7 = 4.75 → 6, 10, 6.
    expect(Array.from(fitRegionsToPeaks(thresholded, map, 0.25).data)).toEqual([0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0]);
  });
  it('grows a weak region below the threshold when its surroundings rise above the level', () => {
    // Background 0 on a mostly empty map: the weak bump's cut 0 + 0.5·3 = 1.5 takes in 2 and 1.8, under the threshold.
    const sparse = { width: 12, height: 1, data: Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 1.8]) };
    expect(Array.from(fitRegionsToPeaks(applyThreshold(sparse, 2), sparse, 0.5).data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  });
  it('refuses levels outside (0, 1) and a map of another size, naming the field', () => {
    for (const bad of [0, -0.1, 1, Number.NaN]) expect(() => fitRegionsToPeaks(thresholded, map, bad)).toThrow(/regionLevel/);
    expect(() => fitRegionsToPeaks(thresholded, { width: 6, height: 1, data: new Float32Array(6) }, 0.5)).toThrow(/map/);
  });
});

describe('proposeRegions with a region level', () => {
  const cal = { method: 'manual', pixelThreshold: 2, min: 0, max: 10 } as const;
  it('false is exactly map > threshold; a level fits each region and finds the same ones', () => {
    const plain = proposeRegions(map, 10, cal, { regionLevel: false });
    const fitted = proposeRegions(map, 10, cal, { regionLevel: 0.5 });
    expect(plain.regions.map((r) => r.area)).toEqual([5, 1]);
    expect(fitted.regions.map((r) => [r.area, r.maxScore])).toEqual([[1, 10], [1, 3]]);
    expect(() => proposeRegions(map, 10, cal, { regionLevel: 2 })).toThrow(/regionLevel/);
  });
});
