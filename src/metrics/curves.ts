/**
 * Exact ranking metrics with ties, as scikit-learn computes them. Scores are split by label and each half is
 * sorted natively (typed-array sort), then merged from the top: one curve point per distinct score, tied scores
 * entering together. This is O(n log n) with two float arrays, so 20 M pixels fit in memory and finish in seconds.
 */

export interface MetricValue {
  value: number;
  /** Why the value is NaN (e.g. only one class present). */
  reason?: string;
}

export interface BinaryCurve {
  /** Cumulative true/false positives at each distinct threshold, highest threshold first. */
  tps: Float64Array;
  fps: Float64Array;
  thresholds: Float64Array;
  positives: number;
  negatives: number;
}

export function checkScores(scores: ArrayLike<number>, field: string): void {
  if (scores.length === 0) throw new Error(`${field}: no values`);
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) throw new Error(`${field}[${i}] is NaN`);
  }
}

/** Splits scores by label into two ascending-sorted arrays. */
export function splitSorted(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>, field = 'scores'): { pos: Float64Array; neg: Float64Array } {
  if (scores.length !== labels.length) throw new Error(`${field}: ${scores.length} scores but ${labels.length} labels`);
  checkScores(scores, field);
  let np = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) np++;
  const pos = new Float64Array(np);
  const neg = new Float64Array(labels.length - np);
  let a = 0;
  let b = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]) pos[a++] = scores[i];
    else neg[b++] = scores[i];
  }
  return { pos: pos.sort(), neg: neg.sort() };
}

/** sklearn's _binary_clf_curve from pre-sorted (ascending) positive and negative scores. */
export function binaryCurve(pos: Float64Array, neg: Float64Array): BinaryCurve {
  const tps: number[] = [];
  const fps: number[] = [];
  const th: number[] = [];
  let i = pos.length - 1;
  let j = neg.length - 1;
  let tp = 0;
  let fp = 0;
  while (i >= 0 || j >= 0) {
    const t = Math.max(i >= 0 ? pos[i] : -Infinity, j >= 0 ? neg[j] : -Infinity);
    while (i >= 0 && pos[i] === t) { tp++; i--; }
    while (j >= 0 && neg[j] === t) { fp++; j--; }
    tps.push(tp); fps.push(fp); th.push(t);
  }
  return { tps: Float64Array.from(tps), fps: Float64Array.from(fps), thresholds: Float64Array.from(th), positives: pos.length, negatives: neg.length };
}

function oneClass(c: BinaryCurve): string | undefined {
  if (c.positives === 0) return 'no anomalous samples: the metric is undefined';
  if (c.negatives === 0) return 'no normal samples: the metric is undefined';
  return undefined;
}

/** roc_auc_score: trapezoid over (FPR, TPR) from (0, 0). */
export function auroc(c: BinaryCurve): MetricValue {
  const reason = oneClass(c);
  if (reason) return { value: NaN, reason };
  let area = 0;
  let px = 0;
  let py = 0;
  for (let k = 0; k < c.tps.length; k++) {
    const x = c.fps[k] / c.negatives;
    const y = c.tps[k] / c.positives;
    area += ((x - px) * (y + py)) / 2;
    px = x; py = y;
  }
  return { value: area };
}

/** average_precision_score: Σ (R_n − R_{n−1}) · P_n over thresholds, highest first (no interpolation). */
export function averagePrecision(c: BinaryCurve): MetricValue {
  if (c.positives === 0) return { value: NaN, reason: 'no anomalous samples: the metric is undefined' };
  let ap = 0;
  let prevR = 0;
  for (let k = 0; k < c.tps.length; k++) {
    const r = c.tps[k] / c.positives;
    const p = c.tps[k] / (c.tps[k] + c.fps[k]);
    ap += (r - prevR) * p;
    prevR = r;
  }
  return { value: ap };
}

/** The repo's f1_score_max: F1 = 2PR/(P+R+1e-7) over precision_recall_curve's points, best value and threshold. */
export function f1Max(c: BinaryCurve): MetricValue & { threshold: number } {
  if (c.positives === 0) return { value: NaN, threshold: NaN, reason: 'no anomalous samples: the metric is undefined' };
  let best = -1;
  let thr = NaN;
  for (let k = 0; k < c.tps.length; k++) {
    const p = c.tps[k] / (c.tps[k] + c.fps[k]);
    const r = c.tps[k] / c.positives;
    const f = (2 * p * r) / (p + r + 1e-7);
    if (f > best) { best = f; thr = c.thresholds[k]; }
    if (c.tps[k] === c.positives) break; // sklearn stops the curve where recall first reaches 1
  }
  return { value: best, threshold: thr };
}
