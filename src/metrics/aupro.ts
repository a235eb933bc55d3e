import { labelComponents } from '../regions/connected-components.ts';
import type { MetricValue } from './curves.ts';

export interface ProCurve { fpr: Float64Array; pro: Float64Array; thresholds: Float64Array }

/**
 * Exact per-region overlap curve: regions are the 8-connected components of each image's mask, pooled over images
 * (R in all). A pixel is predicted anomalous when score ≥ t; one point per distinct score, highest first, after
 * (0, 0). FPR is over all normal pixels; PRO = (1/R) Σ_r |pred ∩ r| / |r|, i.e. each anomalous pixel weighs 1/(|r|·R).
 */
export function proCurve(maps: ArrayLike<number>[], masks: ArrayLike<number>[], width: number, height: number): ProCurve & { regions: number } {
  if (maps.length !== masks.length) throw new Error(`maps: ${maps.length} maps but ${masks.length} masks`);
  const lab = masks.map((m) => labelComponents(m, width, height, 8));
  const R = lab.reduce((a, l) => a + l.count, 0);
  let nNeg = 0;
  let nPos = 0;
  for (const l of lab) for (const v of l.labels) { if (v) nPos++; else nNeg++; }
  const neg = new Float64Array(nNeg);
  const posScore = new Float64Array(nPos);
  const posWeight = new Float64Array(nPos);
  let a = 0;
  let b = 0;
  maps.forEach((map, k) => {
    const { labels, count } = lab[k];
    const area = new Float64Array(count + 1);
    for (const v of labels) area[v]++;
    for (let i = 0; i < labels.length; i++) {
      if (Number.isNaN(map[i])) throw new Error(`maps[${k}][${i}] is NaN`);
      if (labels[i]) { posScore[b] = map[i]; posWeight[b++] = 1 / (area[labels[i]] * R); } else neg[a++] = map[i];
    }
  });
  neg.sort();
  // Anomalous pixels are few; sort them with their weights through an index permutation.
  const order = Uint32Array.from({ length: nPos }, (_, i) => i).sort((x, y) => posScore[x] - posScore[y]);
  const fpr = [0];
  const pro = [0];
  const th = [Infinity];
  let i = nPos - 1;
  let j = nNeg - 1;
  let fp = 0;
  let cov = 0;
  while (i >= 0 || j >= 0) {
    const t = Math.max(i >= 0 ? posScore[order[i]] : -Infinity, j >= 0 ? neg[j] : -Infinity);
    while (i >= 0 && posScore[order[i]] === t) { cov += posWeight[order[i]]; i--; }
    while (j >= 0 && neg[j] === t) { fp++; j--; }
    fpr.push(nNeg ? fp / nNeg : 0); pro.push(cov); th.push(t);
  }
  return { fpr: Float64Array.from(fpr), pro: Float64Array.from(pro), thresholds: Float64Array.from(th), regions: R };
}

/** Area under PRO over FPR ∈ [0, limit] (trapezoid, the last segment cut at the limit), divided by the limit. */
export function aupro(curve: ProCurve & { regions: number }, limit = 0.3): MetricValue {
  if (curve.regions === 0) return { value: NaN, reason: 'no anomalous regions in the ground truth' };
  if (curve.fpr[curve.fpr.length - 1] === 0) return { value: NaN, reason: 'no normal pixels: FPR is undefined' };
  let area = 0;
  for (let k = 1; k < curve.fpr.length; k++) {
    const x0 = curve.fpr[k - 1];
    const x1 = curve.fpr[k];
    const y0 = curve.pro[k - 1];
    const y1 = curve.pro[k];
    if (x1 <= limit) { area += ((x1 - x0) * (y0 + y1)) / 2; continue; }
    if (x0 < limit) {
      const y = y0 + ((y1 - y0) * (limit - x0)) / (x1 - x0);
      area += ((limit - x0) * (y0 + y)) / 2;
    }
    break;
  }
  return { value: area / limit };
}
