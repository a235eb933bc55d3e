import { InputError } from '../errors.ts';
import type { BinaryMask } from '../image/mask.ts';
import type { AnomalyMap, Calibration } from '../types.ts';

/**
 * The saved Calibration (src/types.ts): pixel threshold, min and max in the model's raw map units (masks are exactly
 * map > pixelThreshold), and the image scores' own range, since anomalib normalises image scores with their min/max.
 */
export type ThresholdCalibration = Calibration;

/** Lowest and highest value of some scores. */
export interface ScoreRange { min: number; max: number }

/**
 * anomalib's normalisation (post_processing/post_processor.py): clamp((x − threshold) / (max − min) + 0.5, 0, 1), so
 * the threshold maps to 0.5 whatever the model's units: a normalised threshold carries across models.
 */
export function normalizeScore(x: number, threshold: number, range: ScoreRange): number {
  const v = (x - threshold) / (range.max - range.min) + 0.5;
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * The raw threshold that a normalised one (a slider in [0, 1], 0.5 = the calibrated threshold) stands for: the
 * inverse of normalizeScore inside the clamp. anomalib's sensitivity s is the normalised threshold 1 − s.
 */
export function rawThreshold(normalized: number, threshold: number, range: ScoreRange, where = 'threshold'): number {
  if (!Number.isFinite(normalized) || normalized < 0 || normalized > 1) {
    throw new InputError(where, `a normalised threshold must lie in [0, 1] (0.5 = the calibrated threshold), got ${normalized}`);
  }
  return threshold + (normalized - 0.5) * (range.max - range.min);
}

/** The whole map normalised with the calibration's pixel threshold and range. */
export function normalizeMap(map: AnomalyMap, cal: Calibration): AnomalyMap {
  const data = new Float32Array(map.data.length);
  for (let i = 0; i < data.length; i++) data[i] = normalizeScore(map.data[i], cal.pixelThreshold, cal);
  return { width: map.width, height: map.height, data };
}

/**
 * An image score normalised with the image threshold and range. Without an image range (a calibration saved by a
 * reader that keeps only imageThreshold) the pixel range is used, and without an image threshold the pixel threshold
 * too: the image score is the mean of the map's top 1 %, in the same units.
 */
export function normalizeImageScore(score: number, cal: ThresholdCalibration): number {
  return normalizeScore(score, cal.imageThreshold ?? cal.pixelThreshold, imageRange(cal));
}

/** The image scores' range, or the pixel range when the calibration has none. */
function imageRange(cal: ThresholdCalibration): ScoreRange {
  return cal.imageMin !== undefined && cal.imageMax !== undefined ? { min: cal.imageMin, max: cal.imageMax } : cal;
}

/** The proposal mask: exactly map > threshold (so a threshold equal to the normals' maximum marks none of them). */
export function applyThreshold(map: AnomalyMap, threshold: number): BinaryMask {
  const data = new Uint8Array(map.data.length);
  for (let i = 0; i < data.length; i++) data[i] = map.data[i] > threshold ? 1 : 0;
  return { width: map.width, height: map.height, data };
}

/** Lowest and highest value over all maps (or score lists); NaN is refused, naming the map and pixel. */
export function scoreRange(maps: readonly ArrayLike<number>[], where = 'maps'): ScoreRange {
  let min = Infinity;
  let max = -Infinity;
  maps.forEach((m, k) => {
    for (let i = 0; i < m.length; i++) {
      const v = m[i];
      if (Number.isNaN(v)) throw new InputError(`${where}[${k}][${i}]`, 'is NaN');
      if (v < min) min = v;
      if (v > max) max = v;
    }
  });
  if (min > max) throw new InputError(where, 'no scores given');
  return { min, max };
}

/**
 * Throws unless the calibration can normalise and threshold: finite numbers, min < max (a flat range cannot be
 * normalised), and the threshold inside [min, max]. The image threshold is checked against the image range (imageMin
 * and imageMax, which go together), or the pixel range without one.
 */
export function checkCalibration(cal: ThresholdCalibration, where = 'calibration'): void {
  checkThreshold(cal.pixelThreshold, cal, `${where}.pixelThreshold`, 'pixel');
  if ((cal.imageMin === undefined) !== (cal.imageMax === undefined)) {
    throw new InputError(`${where}.imageMin`, 'imageMin and imageMax go together; one is missing');
  }
  if (cal.imageThreshold !== undefined) checkThreshold(cal.imageThreshold, imageRange(cal), `${where}.imageThreshold`, 'image');
}

function checkThreshold(t: number, range: ScoreRange, where: string, kind: string): void {
  for (const [name, v] of [['threshold', t], ['min', range.min], ['max', range.max]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new InputError(where, `${kind} ${name} must be a finite number, got ${v}`);
  }
  if (!(range.min < range.max)) {
    throw new InputError(where, `the ${kind} score range [${range.min}, ${range.max}] is empty: scores cannot be normalised`);
  }
  if (t < range.min || t > range.max) {
    throw new InputError(where, `${kind} threshold ${t} is outside the score range [${range.min}, ${range.max}]`);
  }
}
