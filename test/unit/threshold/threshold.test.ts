import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.ts';
import {
  applyThreshold, checkCalibration, normalizeImageScore, normalizeMap, normalizeScore, rawThreshold, scoreRange,
} from '../../../src/threshold/calibration.ts';
import { calibrateF1Adaptive, calibrateFromNormals, f1Threshold, manualCalibration, quantile } from '../../../src/threshold/strategies.ts';
import type { AnomalyMap } from '../../../src/types.ts';

const map = (width: number, height: number, values: number[]): AnomalyMap => ({ width, height, data: Float32Array.from(values) });
const mask = (width: number, height: number, values: number[]) => ({ width, height, data: Uint8Array.from(values) });

describe('quantile (numpy linear)', () => {
  it('interpolates between order statistics', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([4, 1, 3, 2], 0.25)).toBe(1.75); // position 0.75
    expect(quantile([4, 1, 3, 2], 0)).toBe(1);
    expect(quantile([4, 1, 3, 2], 1)).toBe(4);
    expect(quantile([7], 0.3)).toBe(7);
  });
  it('refuses q outside [0, 1] and empty input', () => {
    expect(() => quantile([1], 1.5, 'q')).toThrow(/q: must lie in \[0, 1\], got 1.5/);
    expect(() => quantile([], 0.5)).toThrow(InputError);
  });
});

describe('anomalib normalisation', () => {
  it('maps the threshold to 0.5 and clips to [0, 1]', () => {
    const r = { min: 0, max: 10 };
    expect(normalizeScore(5, 5, r)).toBe(0.5);
    expect(normalizeScore(6, 5, r)).toBeCloseTo(0.6, 15);
    expect(normalizeScore(0, 5, r)).toBe(0);
    expect(normalizeScore(-3, 5, r)).toBe(0); // −0.3 clipped
    expect(normalizeScore(10, 5, r)).toBe(1);
    expect(normalizeScore(2, 8, { min: 0, max: 10 })).toBe(0); // (2 − 8)/10 + 0.5 = −0.1
  });
  it('rawThreshold inverts it, so one normalised threshold carries across models with other units', () => {
    expect(rawThreshold(0.6, 5, { min: 0, max: 10 })).toBeCloseTo(6, 12);
    // model A in [0.1, 0.5] with threshold 0.3; model B in [10, 50] with threshold 30
    expect(rawThreshold(0.6, 0.3, { min: 0.1, max: 0.5 })).toBeCloseTo(0.34, 12);
    expect(rawThreshold(0.6, 30, { min: 10, max: 50 })).toBeCloseTo(34, 12);
    expect(normalizeScore(34, 30, { min: 10, max: 50 })).toBeCloseTo(0.6, 12);
    expect(() => rawThreshold(1.2, 5, { min: 0, max: 10 }, 'slider')).toThrow(/slider: a normalised threshold must lie in \[0, 1\]/);
  });
  it('normalizeMap and normalizeImageScore use the calibration (image range when present)', () => {
    const cal = { method: 'manual' as const, pixelThreshold: 2, min: 0, max: 4, imageThreshold: 3, imageMin: 1, imageMax: 5 };
    expect(Array.from(normalizeMap(map(3, 1, [0, 2, 4]), cal).data)).toEqual([0, 0.5, 1]);
    expect(normalizeImageScore(4, cal)).toBe(0.75); // (4 − 3)/4 + 0.5
    expect(normalizeImageScore(3, { method: 'manual', pixelThreshold: 2, min: 0, max: 4 })).toBe(0.75); // pixel units
  });
});

describe('applyThreshold', () => {
  it('is exactly map > threshold', () => {
    expect(Array.from(applyThreshold(map(4, 1, [0.5, 1, 1.5, 1]), 1).data)).toEqual([0, 0, 1, 0]);
  });
});

describe('from normals only', () => {
  const normals = [map(2, 2, [1, 2, 3, 4]), map(2, 2, [5, 2, 1, 0])];
  it('defaults to the maximum normal pixel; records its inputs', () => {
    const cal = calibrateFromNormals(normals);
    expect(cal).toEqual({ method: 'normals-quantile', pixelThreshold: 5, min: 0, max: 5, inputs: { quantile: 1, normalImages: 2, pixels: 8 } });
    // No normal pixel is marked at the maximum.
    for (const m of normals) expect(applyThreshold(m, cal.pixelThreshold).data.every((v) => v === 0)).toBe(true);
  });
  it('takes a quantile of all normal pixels, and of the image scores for the image threshold', () => {
    // sorted [0, 1, 1, 2, 2, 3, 4, 5]: q 0.5 → position 3.5 → 2; q 0.9 → 6.3 → 4.3
    expect(calibrateFromNormals(normals, undefined, { quantile: 0.5 }).pixelThreshold).toBe(2);
    expect(calibrateFromNormals(normals, undefined, { quantile: 0.9 }).pixelThreshold).toBeCloseTo(4.3, 12);
    const cal = calibrateFromNormals(normals, [2.5, 3.5], { quantile: 0.9, imageQuantile: 1 });
    expect([cal.imageThreshold, cal.imageMin, cal.imageMax]).toEqual([3.5, 2.5, 3.5]);
    expect(cal.inputs).toEqual({ quantile: 0.9, normalImages: 2, pixels: 8, imageQuantile: 1 });
  });
  it('refuses no normals, mismatched scores and a flat range', () => {
    expect(() => calibrateFromNormals([])).toThrow(/normals: no normal images/);
    expect(() => calibrateFromNormals(normals, [1])).toThrow(/normals.imageScores: 1 image scores for 2 maps/);
    expect(() => calibrateFromNormals([map(2, 1, [3, 3])])).toThrow(/score range \[3, 3\] is empty/);
    // One normal image: a flat image range, so image scores normalise with the pixel range.
    const one = calibrateFromNormals([map(2, 1, [1, 3])], [2.5]);
    expect([one.imageThreshold, one.imageMin, one.imageMax]).toEqual([2.5, undefined, undefined]);
    // …widened when the score lies outside the finished map (a kNN's max is taken before the final resize).
    const above = calibrateFromNormals([map(2, 1, [1, 3])], [3.2]);
    expect([above.imageThreshold, above.imageMin, above.imageMax]).toEqual([3.2, 1, 3.2]);
  });
});

describe('F1-adaptive', () => {
  it('finds the exact F1 maximum and turns "≥ t" into "> threshold" at the midpoint', () => {
    // ≥9: P1 R⅓ F.5; ≥8: P1 R⅔ F.8; ≥7: P⅔ R⅔ F⅔; ≥6: P¾ R1 F 6/7 (best, recall 1); next lower score 2 → 4.
    const r = f1Threshold(Float32Array.from([9, 8, 7, 6, 2]), [1, 1, 0, 1, 0], 'x');
    expect(r.threshold).toBe(4);
    expect(r.f1).toBeCloseTo((2 * 0.75) / (1.75 + 1e-7), 12);
    expect([r.min, r.max]).toEqual([2, 9]);
  });
  it('goes just below the lowest score when marking everything is best', () => {
    const r = f1Threshold([3, 1], [1, 1], 'x');
    expect(r.threshold).toBeLessThan(1);
    expect(r.threshold).toBeGreaterThan(1 - 1e-15);
    expect(r.min).toBe(r.threshold);
  });
  it('calibrates pixel and image thresholds from accepted images', () => {
    const samples = [
      { map: map(5, 1, [9, 8, 7, 6, 2]), mask: mask(5, 1, [1, 1, 0, 1, 0]), score: 8 },
      { map: map(5, 1, [1, 1, 1, 1, 1]), mask: mask(5, 1, [0, 0, 0, 0, 0]), score: 1 },
    ];
    const cal = calibrateF1Adaptive(samples);
    expect(cal.method).toBe('f1-adaptive');
    expect(cal.pixelThreshold).toBe(4);
    expect([cal.min, cal.max]).toEqual([1, 9]);
    // Image scores 8 (defective), 1 (normal): ≥8 gives F1 1; next lower 1 → 4.5.
    expect([cal.imageThreshold, cal.imageMin, cal.imageMax]).toEqual([4.5, 1, 8]);
    expect(cal.inputs).toMatchObject({ acceptedImages: 2, defectiveImages: 1, pixels: 10 });
    expect(Array.from(applyThreshold(samples[0].map, cal.pixelThreshold).data)).toEqual([1, 1, 1, 1, 0]);
  });
  it('has no image threshold without normal images, and refuses no defects or mismatched sizes', () => {
    const d = { map: map(2, 1, [3, 1]), mask: mask(2, 1, [1, 0]), score: 3 };
    expect(calibrateF1Adaptive([d]).imageThreshold).toBeUndefined();
    expect(() => calibrateF1Adaptive([{ map: map(2, 1, [3, 1]), mask: mask(2, 1, [0, 0]) }])).toThrow(/no anomalous samples/);
    expect(() => calibrateF1Adaptive([{ map: map(2, 1, [3, 1]), mask: mask(1, 2, [0, 1]) }])).toThrow(/accepted\[0\].mask: is 1×2, but its map is 2×1/);
  });
});

describe('manual', () => {
  it('records the slider value and checks it lies in the range', () => {
    expect(manualCalibration(0.3, { min: 0.1, max: 0.5 })).toEqual({ method: 'manual', pixelThreshold: 0.3, min: 0.1, max: 0.5, inputs: { pixelThreshold: 0.3 } });
    expect(() => manualCalibration(0.7, { min: 0.1, max: 0.5 })).toThrow(/manual.pixelThreshold: pixel threshold 0.7 is outside the score range \[0.1, 0.5\]/);
    expect(manualCalibration(0.3, { min: 0.1, max: 0.5 }, { imageThreshold: 0.2 }).imageMin).toBeUndefined(); // pixel range
    expect(() => manualCalibration(0.3, { min: 0.1, max: 0.5 }, { imageThreshold: 0.6 })).toThrow(/manual.imageThreshold: image threshold 0.6 is outside the score range \[0.1, 0.5\]/);
    const c = manualCalibration(0.3, { min: 0.1, max: 0.5 }, { imageThreshold: 0.2, imageRange: { min: 0, max: 1 } });
    expect([c.imageThreshold, c.imageMin, c.imageMax]).toEqual([0.2, 0, 1]);
  });
  it('checkCalibration refuses non-finite values and partial image fields', () => {
    expect(() => checkCalibration({ method: 'manual', pixelThreshold: NaN, min: 0, max: 1 })).toThrow(/pixel threshold must be a finite number/);
    expect(() => checkCalibration({ method: 'manual', pixelThreshold: 0.5, min: 0, max: 1, imageThreshold: 0.5, imageMin: 0 })).toThrow(/calibration.imageMin: imageMin and imageMax go together/);
    // An image threshold without its range (what a manifest that drops imageMin/imageMax gives) uses the pixel range.
    const noRange = { method: 'normals-quantile' as const, pixelThreshold: 0.5, min: 0, max: 1, imageThreshold: 0.4 };
    expect(() => checkCalibration(noRange)).not.toThrow();
    expect(normalizeImageScore(0.6, noRange)).toBeCloseTo(0.7, 12);
    expect(() => checkCalibration({ ...noRange, imageThreshold: 2 })).toThrow(/calibration.imageThreshold: image threshold 2 is outside the score range \[0, 1\]/);
  });
  it('scoreRange spans all maps and names a NaN', () => {
    expect(scoreRange([[3, -1], [7]])).toEqual({ min: -1, max: 7 });
    expect(() => scoreRange([[1], [2, NaN]])).toThrow(/maps\[1\]\[1\]: is NaN/);
  });
});
