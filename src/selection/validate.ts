import { InputError } from '../errors.ts';
import { evaluateDetection } from '../metrics/evaluate.ts';
import type { AnomalyMap } from '../types.ts';

/**
 * Choosing between two detectors on labelled images that neither trained on: held-out normals, and defects with
 * masks (the annotator's accepted ones, or synthetic ones on held-out normals when there are none). Plain maps in,
 * figures out: both detectors are judged on the same images, each map at its own size.
 */

/** One validation image's map and score; `mask` null for a normal image (all pixels 0). */
export interface ValidationMap { map: AnomalyMap; score: number; mask: Uint8Array | null }

/** What a detector scored on the validation images, in [0, 1]. */
export interface ValidationFigures {
  /** Pixel AUROC over every validation image's pixels (normals all 0). */
  pixelAuroc: number;
  /** Image AUROC: normals against defective images. */
  imageAuroc: number;
  /** Pixel average precision: how tightly the map covers the defects (what a refinement head is for). */
  pixelAp: number;
  /** The figure detectors are ranked by: the mean of the two. */
  score: number;
  normals: number;
  defects: number;
  /** Whether the defects are synthetic (no accepted masks yet) or the annotator's. */
  synthetic: boolean;
}

export function validationFigures(items: readonly ValidationMap[], synthetic: boolean): ValidationFigures {
  const normals = items.filter((it) => !it.mask).length;
  const defects = items.length - normals;
  if (!normals || !defects) throw new InputError('validation images', `need normals and defects, got ${normals} normal(s) and ${defects} defect(s)`);
  const { width, height } = items[0].map;
  items.forEach((it, i) => {
    if (it.map.width !== width || it.map.height !== height || (it.mask && it.mask.length !== width * height)) {
      throw new InputError(`validation image ${i}`, `map or mask is not ${width}×${height} like the first`);
    }
  });
  const m = evaluateDetection({
    imageScores: items.map((it) => it.score), imageLabels: items.map((it) => (it.mask ? 1 : 0)),
    maps: items.map((it) => it.map.data), masks: items.map((it) => it.mask ?? new Uint8Array(width * height)), width, height,
  });
  return { pixelAuroc: m.pixel_auroc, imageAuroc: m.image_auroc, pixelAp: m.pixel_ap, score: (m.pixel_auroc + m.image_auroc) / 2, normals, defects, synthetic };
}

/** The outcome shown to the user: both figures, and which detector stays in use. */
export interface Selection { current: ValidationFigures; candidate: ValidationFigures; keep: 'current' | 'candidate' }

/** The candidate replaces the detector in use only if it scores strictly higher: a tie keeps what the user has. */
export function selectDetector(current: ValidationFigures, candidate: ValidationFigures): Selection {
  return { current, candidate, keep: candidate.score > current.score ? 'candidate' : 'current' };
}

/**
 * A refinement head stays in use only if it makes the map tighter (higher pixel AP on the held-out defects) without
 * costing the image decision (image AUROC at most 1 point lower): ranked by pixel AP, unlike whole detectors.
 */
export function selectRefinement(raw: ValidationFigures, refined: ValidationFigures): Selection {
  const keep = refined.pixelAp > raw.pixelAp && refined.imageAuroc >= raw.imageAuroc - 0.01 ? 'candidate' : 'current';
  return { current: raw, candidate: refined, keep };
}

/** "pixel AUROC 97.1 %, image AUROC 99.0 % on 5 normals + 10 synthetic defects". */
export function describeFigures(f: ValidationFigures): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  return `pixel AUROC ${pct(f.pixelAuroc)}, image AUROC ${pct(f.imageAuroc)} on ${f.normals} normal${f.normals === 1 ? '' : 's'} + ${f.defects} ${f.synthetic ? 'synthetic' : 'accepted'} defect${f.defects === 1 ? '' : 's'}`;
}
