import { aupro, proCurve } from './aupro.ts';
import { auroc, averagePrecision, binaryCurve, f1Max, splitSorted, type MetricValue } from './curves.ts';

export interface DetectionInput {
  imageScores: ArrayLike<number>;
  /** 1 = anomalous. */
  imageLabels: ArrayLike<number | boolean>;
  /** Per-image maps (width×height) for pixel metrics. */
  maps?: ArrayLike<number>[];
  /** Per-image ground truth (0/1); null where the image has none (image-level only). Normal images pass zeros. */
  masks?: (ArrayLike<number> | null)[];
  width?: number;
  height?: number;
}

export interface DetectionMetrics {
  image_auroc: number; image_ap: number; image_f1max: number;
  pixel_auroc: number; pixel_ap: number; pixel_f1max: number; aupro: number;
  pixel_f1_threshold: number;
  counts: { images: number; anomalous_images: number; pixel_images: number; regions: number };
  notes: string[];
}

/** The paper's table: image AUROC/AP/F1-max, pixel AUROC/AP/F1-max and AUPRO@0.3, exact (not binned). */
export function evaluateDetection(d: DetectionInput): DetectionMetrics {
  const notes: string[] = [];
  const take = (name: string, m: MetricValue) => { if (m.reason) notes.push(`${name}: ${m.reason}`); return m.value; };
  const img = splitSorted(d.imageScores, d.imageLabels, 'imageScores');
  const ic = binaryCurve(img.pos, img.neg);
  const out: DetectionMetrics = {
    image_auroc: take('image_auroc', auroc(ic)), image_ap: take('image_ap', averagePrecision(ic)), image_f1max: take('image_f1max', f1Max(ic)),
    pixel_auroc: NaN, pixel_ap: NaN, pixel_f1max: NaN, aupro: NaN, pixel_f1_threshold: NaN,
    counts: { images: d.imageScores.length, anomalous_images: img.pos.length, pixel_images: 0, regions: 0 }, notes,
  };
  if (!d.maps || !d.masks || !d.width || !d.height) {
    notes.push('pixel metrics: no maps or masks given');
    return out;
  }
  if (d.maps.length !== d.imageScores.length || d.masks.length !== d.maps.length) throw new Error(`maps/masks: expected ${d.imageScores.length} of each`);
  const n = d.width * d.height;
  const idx = d.masks.flatMap((m, i) => (m ? [i] : []));
  const skipped = d.masks.length - idx.length;
  if (skipped) notes.push(`pixel metrics: ${skipped} image(s) without ground truth left out`);
  if (!idx.length) return out;
  const scores = new Float32Array(idx.length * n);
  const labels = new Uint8Array(idx.length * n);
  idx.forEach((i, k) => {
    if (d.maps![i].length !== n || d.masks![i]!.length !== n) throw new Error(`maps[${i}] or masks[${i}] is not ${d.width}×${d.height}`);
    scores.set(d.maps![i], k * n);
    labels.set(d.masks![i]!, k * n);
  });
  const px = splitSorted(scores, labels, 'maps');
  const pc = binaryCurve(px.pos, px.neg);
  const f1 = f1Max(pc);
  const curve = proCurve(idx.map((i) => d.maps![i]), idx.map((i) => d.masks![i]!), d.width, d.height);
  Object.assign(out, {
    pixel_auroc: take('pixel_auroc', auroc(pc)), pixel_ap: take('pixel_ap', averagePrecision(pc)), pixel_f1max: take('pixel_f1max', f1),
    pixel_f1_threshold: f1.threshold, aupro: take('aupro', aupro(curve)),
  });
  out.counts.pixel_images = idx.length;
  out.counts.regions = curve.regions;
  return out;
}
