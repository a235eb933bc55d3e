import { type AcceptedSample, type AnomalyMap, type BinaryMask, calibrateF1Adaptive, calibrateFromNormals, type ProposalRegion, type Proposals, proposeRegions, rawThreshold, type ThresholdCalibration } from '../../src/web.ts';
import { acceptedRegions, type ImageEntry } from './session.ts';

/** The model's raw output for one image, kept so the threshold can move without re-running it. */
/** The model's answer for one image; `model: 'failed'` with `error` when it could not analyse it. */
export interface RawResult { map: AnomalyMap; score: number; model: string; error?: string }

/** A proposal is suppressed once at least this share of it lies under a decided (accepted or rejected) region. */
export const COVERED_SHARE = 0.5;
/** Proposals smaller than this many working-size pixels are noise, not regions worth a decision. */
export const MIN_REGION_AREA = 16;

function overlap(a: BinaryMask, b: BinaryMask): number {
  let n = 0;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] && b.data[i]) n++;
  return n;
}

/**
 * Proposals still waiting for a decision: the map thresholded at `calibration`, minus those mostly covered by a
 * decided region, highest score first. Images marked normal have none.
 */
export function pendingProposals(entry: ImageEntry, raw: RawResult, calibration: ThresholdCalibration): { proposals: Proposals; pending: ProposalRegion[] } {
  const proposals = proposeRegions(raw.map, raw.score, calibration, { minArea: MIN_REGION_AREA });
  if (entry.status === 'normal') return { proposals, pending: [] };
  const pending = proposals.regions
    .filter((p) => !entry.regions.some((d) => overlap(p.mask, d.mask) >= COVERED_SHARE * p.area))
    .sort((a, b) => b.score - a.score);
  return { proposals, pending };
}

/**
 * After a decision: accepting anything makes an image defective. Nothing makes it normal but the annotator's own
 * G: a rejected proposal says the model was wrong there, not that the image is defect-free, and a normal feeds the
 * memory bank (a missed defect there would teach the model that defect).
 */
export function settleStatus(entry: ImageEntry): ImageEntry {
  return acceptedRegions(entry).length > 0 && entry.status !== 'defective' ? { ...entry, status: 'defective' } : entry;
}

/** Every proposal decided, none accepted, the image not yet marked: the moment to ask the annotator for G. */
export function allRejected(entry: ImageEntry, pendingCount: number): boolean {
  return entry.status === 'unreviewed' && pendingCount === 0 && acceptedRegions(entry).length === 0 && entry.regions.some((r) => r.state === 'rejected');
}

/** Union of an image's accepted regions (all zero for a normal image). */
export function acceptedMask(entry: ImageEntry, width: number, height: number): BinaryMask {
  const data = new Uint8Array(width * height);
  for (const r of acceptedRegions(entry)) for (let i = 0; i < data.length; i++) if (r.mask.data[i]) data[i] = 1;
  return { width, height, data };
}

/**
 * The loop's calibration. With at least one accepted defect: F1-adaptive over every reviewed image that has a map
 * (defective ones against their accepted masks, normal ones against an empty mask). Before that: the normals'
 * quantile over held-out normal maps (maps of normal images computed without themselves in the bank).
 */
export function loopCalibration(entries: readonly ImageEntry[], results: ReadonlyMap<string, RawResult>): ThresholdCalibration | undefined {
  const samples: AcceptedSample[] = [];
  const normals: RawResult[] = [];
  for (const e of entries) {
    const r = results.get(e.id);
    if (!r) continue;
    if (e.status === 'normal') {
      normals.push(r);
      samples.push({ map: r.map, mask: { width: r.map.width, height: r.map.height, data: new Uint8Array(r.map.data.length) }, score: r.score });
    } else if (e.status === 'defective' && acceptedRegions(e).length) {
      samples.push({ map: r.map, mask: acceptedMask(e, r.map.width, r.map.height), score: r.score });
    }
  }
  if (samples.length > normals.length) return calibrateF1Adaptive(samples);
  // Image gating needs a spread of normal image scores: one score (max of a map taken before its final resize) can
  // exceed its own resized map's range.
  const scores = normals.map((n) => n.score);
  if (normals.length) return calibrateFromNormals(normals.map((n) => n.map), Math.min(...scores) < Math.max(...scores) ? scores : undefined);
  return undefined;
}

/**
 * The calibration moved by the slider: `t` is a normalised threshold (0.5 = calibrated), applied to the pixel and
 * the image threshold alike and kept inside each score range, so lowering it also lets gated images propose.
 */
export function adjustCalibration(cal: ThresholdCalibration, t: number): ThresholdCalibration {
  const clampTo = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  const out: ThresholdCalibration = { ...cal, pixelThreshold: clampTo(rawThreshold(t, cal.pixelThreshold, cal), cal.min, cal.max) };
  if (cal.imageThreshold !== undefined) {
    const range = cal.imageMin !== undefined && cal.imageMax !== undefined ? { min: cal.imageMin, max: cal.imageMax } : cal;
    out.imageThreshold = clampTo(rawThreshold(t, cal.imageThreshold, range), range.min, range.max);
  }
  return out;
}
