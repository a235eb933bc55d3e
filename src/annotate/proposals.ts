import { InputError } from '../errors.ts';
import type { AnnotatedImage, AnnotatedRegion } from '../export/annotations.ts';
import type { BinaryMask } from '../image/mask.ts';
import { cleanMask, type CleanOptions } from '../regions/morphology.ts';
import { fitRegionsToPeaks } from '../regions/peak-level.ts';
import { findRegions, regionMasks, type Region, type RegionOptions } from '../regions/regions.ts';
import { applyThreshold, checkCalibration, normalizeImageScore, normalizeScore, type ThresholdCalibration } from '../threshold/calibration.ts';
import type { AnomalyMap } from '../types.ts';

/**
 * Anomaly map → labelling proposals, the one function the CLI `annotate`, the Label Studio / CVAT servers and the
 * workspace share, so the same options give the same masks everywhere. Pure: no I/O, plain data out.
 */

/** The region level proposals use unless told otherwise (measured in `npm run bench:masks`, BENCHMARKS.md masks-knn). */
/**
 * Off: a fitted region's extent follows its own peak, not the threshold, so the sensitivity slider (and CVAT's
 * threshold) would only choose which regions appear, no longer how large they are, and a higher threshold could even
 * grow a region that splits; the IoU it bought was small (BENCHMARKS.md masks-knn). Ask for it with regionLevel.
 */
export const DEFAULT_REGION_LEVEL: number | false = false;

export interface ProposalOptions extends CleanOptions, RegionOptions {
  /**
   * Propose nothing when the image score is at or below the calibration's image threshold (default true; without an
   * image threshold there is no gate, e.g. a bare manual threshold).
   */
  imageGate?: boolean;
  /**
   * Fit each thresholded region to its defect: the pixels connected to its peak above background + regionLevel ·
   * (peak − background) (regions/peak-level.ts), in (0, 1); false = exactly map > threshold. Which regions are
   * found does not change, only their extent.
   */
  regionLevel?: number | false;
}

/** A proposed region: its statistics, its mask and the score shown to the annotator. */
export interface ProposalRegion extends Region {
  mask: BinaryMask;
  /** The region's max score, normalised (anomalib, threshold → 0.5): above 0.5, comparable across models. */
  score: number;
}

export interface Proposals {
  width: number;
  height: number;
  /** Raw pixel threshold the mask was cut at. */
  threshold: number;
  imageScore: number;
  normalizedImageScore: number;
  /** The image-level score says normal: no regions, empty mask. */
  normal: boolean;
  /** Union of the proposed regions (exactly map > threshold unless cleaning or minArea were asked for). */
  mask: BinaryMask;
  /** Instance image: 0 = background, else the region's id. */
  instances: Int32Array;
  regions: ProposalRegion[];
}

/**
 * Thresholds the map at the calibration's pixel threshold (map > threshold), optionally smooths and fills holes,
 * splits into 8-connected regions and drops those under minArea. Order: gate, threshold, fit each region to its
 * peak level, clean, label, filter.
 */
export function proposeRegions(map: AnomalyMap, imageScore: number, calibration: ThresholdCalibration, options: ProposalOptions = {}): Proposals {
  checkCalibration(calibration);
  if (map.data.length !== map.width * map.height) throw new InputError('map', `has ${map.data.length} values, but ${map.width}×${map.height} needs ${map.width * map.height}`);
  if (!Number.isFinite(imageScore)) throw new InputError('imageScore', `must be a finite number, got ${imageScore}`);
  const { width, height } = map;
  const normal = (options.imageGate ?? true) && calibration.imageThreshold !== undefined && !(imageScore > calibration.imageThreshold);
  const base = { width, height, threshold: calibration.pixelThreshold, imageScore, normalizedImageScore: normalizeImageScore(imageScore, calibration), normal };
  if (normal) {
    return { ...base, mask: { width, height, data: new Uint8Array(width * height) }, instances: new Int32Array(width * height), regions: [] };
  }
  const thresholded = applyThreshold(map, calibration.pixelThreshold);
  const level = options.regionLevel ?? DEFAULT_REGION_LEVEL;
  const mask = cleanMask(level === false ? thresholded : fitRegionsToPeaks(thresholded, map, level), options);
  const set = findRegions(mask, map, options);
  const union = new Uint8Array(width * height);
  for (let i = 0; i < union.length; i++) union[i] = set.instances[i] > 0 ? 1 : 0;
  const masks = regionMasks(set);
  return {
    ...base,
    mask: { width, height, data: union },
    instances: set.instances,
    regions: set.regions.map((r, k) => ({
      ...r, mask: masks[k], score: normalizeScore(r.maxScore, calibration.pixelThreshold, calibration),
    })),
  };
}

/** Proposals as the exporters take them: regions with masks, normalised scores and raw statistics. */
export function toAnnotatedImage(fileName: string, p: Proposals): AnnotatedImage {
  return {
    fileName, width: p.width, height: p.height, score: p.normalizedImageScore,
    regions: p.regions.map((r): AnnotatedRegion => ({ mask: r.mask, score: r.score, maxScore: r.maxScore, meanScore: r.meanScore })),
  };
}
