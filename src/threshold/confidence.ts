import { InputError } from '../errors.ts';
import { checkCalibration, rawThreshold, type ThresholdCalibration } from './calibration.ts';

/**
 * A calibration that cuts at the normalised score `t` instead of 0.5: CVAT's detector `threshold` is a 0–1
 * confidence, and ours is the anomalib-normalised score, so t = 0.5 is the calibration itself, higher t proposes
 * less. Pixel and image thresholds move together (rawThreshold of each with its own range). The ranges widen to
 * contain a moved threshold so the result stays valid; scores shown to the user should still be normalised with
 * the original calibration, where the calibrated threshold is 0.5.
 */
export function calibrationAt(cal: ThresholdCalibration, t: number, where = 'threshold'): ThresholdCalibration {
  checkCalibration(cal);
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 1) {
    throw new InputError(where, `must be a number from 0 to 1 (a confidence; 0.5 = the model's calibrated threshold), got ${JSON.stringify(t)}`);
  }
  const pixel = rawThreshold(t, cal.pixelThreshold, cal, where);
  const out: ThresholdCalibration = { ...cal, pixelThreshold: pixel, min: Math.min(cal.min, pixel), max: Math.max(cal.max, pixel) };
  if (cal.imageThreshold !== undefined) {
    const hasRange = cal.imageMin !== undefined && cal.imageMax !== undefined;
    const range = hasRange ? { min: cal.imageMin!, max: cal.imageMax! } : cal;
    const image = rawThreshold(t, cal.imageThreshold, range, where);
    out.imageThreshold = image;
    if (hasRange) Object.assign(out, { imageMin: Math.min(range.min, image), imageMax: Math.max(range.max, image) });
    else Object.assign(out, { min: Math.min(out.min, image), max: Math.max(out.max, image) });
  }
  return out;
}
