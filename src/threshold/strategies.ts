import { InputError } from '../errors.ts';
import { checkMask, type BinaryMask } from '../image/mask.ts';
import { binaryCurve, f1Max, splitSorted } from '../metrics/curves.ts';
import type { AnomalyMap } from '../types.ts';
import { checkCalibration, scoreRange, type ScoreRange, type ThresholdCalibration } from './calibration.ts';

/**
 * The named threshold strategies. Each returns a checked ThresholdCalibration whose `inputs` record what it was
 * computed from, so an export can say where its threshold came from.
 */

/**
 * numpy.quantile's default ('linear'): position q·(n − 1) in the ascending order, interpolated between neighbours.
 * q = 1 is the maximum, found without sorting (the default, and the common case on large sets).
 */
export function quantile(values: ArrayLike<number>, q: number, where = 'quantile'): number {
  if (!(q >= 0 && q <= 1)) throw new InputError(where, `must lie in [0, 1], got ${q}`);
  if (values.length === 0) throw new InputError(where, 'no values');
  if (q === 1) return scoreRange([values], where).max;
  const sorted = Float64Array.from(values).sort();
  if (Number.isNaN(sorted[sorted.length - 1])) throw new InputError(where, 'values contain NaN');
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

export interface NormalsOptions {
  /** Quantile of the normal pixels' scores (the false-positive-pixel budget is 1 − q); default 1 = their maximum. */
  quantile?: number;
  /** Quantile of the normal images' scores for the image threshold; default the pixel quantile. */
  imageQuantile?: number;
}

/**
 * From normals only: the pixel threshold is a quantile of all pixel scores of held-out normal images (default their
 * maximum: no normal pixel is marked, anomalib's fallback without anomalous samples). With image scores, the image
 * threshold is a quantile of them, so an image scoring like the normals proposes nothing. The normalisation range
 * is the normals' own (anomalib's min-max over the validation set), so with q = 1 the threshold is the range's top.
 */
export function calibrateFromNormals(maps: readonly AnomalyMap[], imageScores?: ArrayLike<number>, options: NormalsOptions = {}): ThresholdCalibration {
  const q = options.quantile ?? 1;
  const iq = options.imageQuantile ?? q;
  if (maps.length === 0) throw new InputError('normals', 'no normal images given: the threshold needs at least one');
  if (imageScores && imageScores.length !== maps.length) {
    throw new InputError('normals.imageScores', `${imageScores.length} image scores for ${maps.length} maps`);
  }
  const data = maps.map((m) => m.data);
  const range = scoreRange(data, 'normals.maps');
  const pixels = data.reduce((n, d) => n + d.length, 0);
  const all = new Float32Array(pixels);
  data.reduce((off, d) => { all.set(d, off); return off + d.length; }, 0);
  const cal: ThresholdCalibration = {
    method: 'normals-quantile',
    pixelThreshold: quantile(all, q, 'normals.quantile'),
    ...range,
    inputs: { quantile: q, normalImages: maps.length, pixels, ...(imageScores ? { imageQuantile: iq } : {}) },
  };
  if (imageScores) {
    const ir = scoreRange([imageScores], 'normals.imageScores');
    cal.imageThreshold = quantile(imageScores, iq, 'normals.imageQuantile');
    // One normal image (or equal scores) gives a flat image range: normalise with the pixel range then, widened to
    // the image scores, which can exceed the finished map's range (a kNN's max is taken before the final resize).
    if (ir.min < ir.max) Object.assign(cal, { imageMin: ir.min, imageMax: ir.max });
    else if (ir.min < range.min || ir.max > range.max) Object.assign(cal, { imageMin: Math.min(range.min, ir.min), imageMax: Math.max(range.max, ir.max) });
  }
  checkCalibration(cal, 'normals');
  return cal;
}

/** One image the annotator has accepted: its map (and image score) and the accepted mask (all zero when normal). */
export interface AcceptedSample { map: AnomalyMap; mask: BinaryMask; score?: number }

/** A threshold that maximises F1 on some scores, in "x > threshold" form, with the F1 it reaches. */
export interface F1Threshold { threshold: number; f1: number; min: number; max: number }

/**
 * The exact F1-maximising threshold (curves.ts f1Max: every distinct score a candidate, ties entering together).
 * f1Max predicts score ≥ t; our masks are score > threshold, so the threshold is the midpoint between t and the next
 * lower distinct score, which selects exactly the same set and leaves a margin on both sides. When t is the lowest
 * score (all marked), it is the largest double below t.
 */
export function f1Threshold(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>, where: string): F1Threshold {
  const { pos, neg } = splitSorted(scores, labels, where);
  if (pos.length === 0) throw new InputError(where, 'no anomalous samples: F1 is undefined; use the normals-only threshold until a defect is accepted');
  const curve = binaryCurve(pos, neg);
  const best = f1Max(curve);
  const k = curve.thresholds.indexOf(best.threshold);
  const lower = k + 1 < curve.thresholds.length ? curve.thresholds[k + 1] : undefined;
  const threshold = lower === undefined ? nextDown(best.threshold) : (best.threshold + lower) / 2;
  const lo = Math.min(pos[0], neg.length ? neg[0] : Infinity);
  const hi = Math.max(pos[pos.length - 1], neg.length ? neg[neg.length - 1] : -Infinity);
  return { threshold, f1: best.value, min: Math.min(lo, threshold), max: hi };
}

/**
 * F1-adaptive (anomalib's F1AdaptiveThreshold): the pixel threshold maximising pixel F1 over the accepted images'
 * maps against their accepted masks. When every sample has an image score and both normal (empty mask) and defective
 * images are present, the image threshold maximises image F1 the same way; otherwise there is none (no gating).
 */
export function calibrateF1Adaptive(samples: readonly AcceptedSample[]): ThresholdCalibration {
  if (samples.length === 0) throw new InputError('accepted', 'no accepted images given');
  let pixels = 0;
  samples.forEach((s, k) => {
    checkMask(s.mask, `accepted[${k}].mask`);
    if (s.map.width !== s.mask.width || s.map.height !== s.mask.height || s.map.data.length !== s.mask.data.length) {
      throw new InputError(`accepted[${k}].mask`, `is ${s.mask.width}×${s.mask.height}, but its map is ${s.map.width}×${s.map.height}`);
    }
    pixels += s.map.data.length;
  });
  const scores = new Float32Array(pixels);
  const labels = new Uint8Array(pixels);
  samples.reduce((off, s) => { scores.set(s.map.data, off); labels.set(s.mask.data, off); return off + s.map.data.length; }, 0);
  const px = f1Threshold(scores, labels, 'accepted.pixels');
  const defective = samples.map((s) => (s.mask.data.includes(1) ? 1 : 0));
  const cal: ThresholdCalibration = {
    method: 'f1-adaptive', pixelThreshold: px.threshold, min: px.min, max: px.max,
    inputs: { acceptedImages: samples.length, defectiveImages: defective.reduce<number>((a, b) => a + b, 0), pixels, pixelF1: px.f1 },
  };
  const withScores = samples.every((s) => typeof s.score === 'number');
  if (withScores && defective.includes(0) && defective.includes(1)) {
    const im = f1Threshold(samples.map((s) => s.score!), defective, 'accepted.scores');
    Object.assign(cal, { imageThreshold: im.threshold, imageMin: im.min, imageMax: im.max });
    cal.inputs!.imageF1 = im.f1;
  }
  checkCalibration(cal, 'f1-adaptive');
  return cal;
}

export interface ManualOptions {
  /** Image threshold in raw image-score units; no image gating without it. */
  imageThreshold?: number;
  /** The image scores' range for normalising them; default the pixel range (image scores are in map units). */
  imageRange?: ScoreRange;
}

/**
 * A manual (slider) threshold in raw map units, with the score range it normalises against (the model's saved
 * calibration range, or scoreRange of the maps at hand). A threshold outside that range is refused: it would mark
 * every pixel or none.
 */
export function manualCalibration(pixelThreshold: number, range: ScoreRange, options: ManualOptions = {}): ThresholdCalibration {
  const cal: ThresholdCalibration = { method: 'manual', pixelThreshold, min: range.min, max: range.max, inputs: { pixelThreshold } };
  if (options.imageThreshold !== undefined) {
    cal.imageThreshold = options.imageThreshold;
    cal.inputs!.imageThreshold = options.imageThreshold;
  }
  if (options.imageRange) Object.assign(cal, { imageMin: options.imageRange.min, imageMax: options.imageRange.max });
  checkCalibration(cal, 'manual');
  return cal;
}

/** The largest double below x (x finite), by stepping its bit pattern. */
function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 ? bits - 1n : bits + 1n);
  return view.getFloat64(0);
}
