import type { Detector } from '../pipeline/detector.ts';
import { InputError } from '../errors.ts';
import { decodeImage, decodeMask } from '../image/decode.ts';
import { evaluateDetection, type DetectionMetrics } from '../metrics/evaluate.ts';
import { preprocessMask } from '../preprocess/mask.ts';
import { preprocess, stackBatch } from '../preprocess/preprocess.ts';
import type { PreprocessConfig } from '../types.ts';

/** One test image: its defect type ("good" = normal), label and ground-truth mask file (null: image-level only). */
export interface TestItem { file: string; type: string; label: 0 | 1; mask: string | null }

export interface DatasetEvaluation {
  metrics: DetectionMetrics;
  /** Each defect type against the normal test images. */
  per_type: Record<string, DetectionMetrics>;
  scores: Array<{ file: string; type: string; label: 0 | 1; score: number }>;
  ms_per_image: number;
}

export interface EvaluateOptions {
  readBytes: (file: string) => Promise<Uint8Array>;
  batch?: number;
  /** Score INP-Former's zero-shot map (the INP coherence distance, no decoder) instead of the reconstruction map. */
  zeroShot?: boolean;
  onProgress?: (done: number, total: number, file: string) => void;
}

/**
 * Runs a detector over a test set and scores it as the paper's tables do: image metrics on the image scores,
 * pixel metrics and AUPRO on the maps against masks prepared like the official evaluation (spec §4.1). Under
 * `annotate` the maps are resized back onto the images, which must then all have one size.
 */
export async function evaluateItems(detector: Detector, items: readonly TestItem[], pre: PreprocessConfig, o: EvaluateOptions): Promise<DatasetEvaluation> {
  if (!items.length) throw new InputError('test set', 'holds no images');
  if (o.zeroShot && detector.kind !== 'inp-former') throw new InputError('zero-shot', 'needs an INP-Former (a kNN model has no INPs)');
  const batch = pre.protocol === 'annotate' ? 1 : Math.max(1, o.batch ?? 1);
  const maps: Float32Array[] = [];
  const masks: (Uint8Array | null)[] = [];
  const scores: DatasetEvaluation['scores'] = [];
  let size: [number, number] | undefined;
  let compute = 0;
  for (let i = 0; i < items.length; i += batch) {
    const chunk = items.slice(i, i + batch);
    const prepared = [];
    for (const it of chunk) {
      const img = decodeImage(await o.readBytes(it.file), it.file);
      prepared.push(preprocess(img, pre, detector.inputMultiple > 1 ? detector.inputMultiple : undefined, it.file));
      if (pre.protocol === 'annotate') {
        if (size && (size[0] !== img.height || size[1] !== img.width)) {
          throw new InputError(it.file, `is ${img.width}×${img.height}, other test images are ${size[1]}×${size[0]}: evaluate with --protocol official`);
        }
        size = [img.height, img.width];
      }
      masks.push(await groundTruth(it, img.width, img.height));
    }
    const t0 = performance.now();
    const r = await detector.predict(stackBatch(prepared), { mapSize: pre.mapSize, ...(size ? { outputSize: size } : {}), ...(o.zeroShot ? { zeroShot: true } : {}) });
    compute += performance.now() - t0;
    chunk.forEach((it, j) => {
      maps.push(r.maps[j]);
      scores.push({ file: it.file, type: it.type, label: it.label, score: r.scores[j] });
    });
    size ??= [r.height, r.width];
    o.onProgress?.(Math.min(i + batch, items.length), items.length, chunk[chunk.length - 1].file);
  }
  const [height, width] = size!;
  items.forEach((it, i) => { if (it.label === 0) masks[i] = new Uint8Array(width * height); });
  const metricsOf = (keep: (it: TestItem) => boolean) => {
    const idx = items.flatMap((it, i) => (keep(it) ? [i] : []));
    return evaluateDetection({
      imageScores: idx.map((i) => scores[i].score), imageLabels: idx.map((i) => items[i].label),
      maps: idx.map((i) => maps[i]), masks: idx.map((i) => masks[i]), width, height,
    });
  };
  const types = [...new Set(items.filter((it) => it.label === 1).map((it) => it.type))].sort();
  return {
    metrics: metricsOf(() => true),
    per_type: Object.fromEntries(types.map((t) => [t, metricsOf((it) => it.label === 0 || it.type === t)])),
    scores,
    ms_per_image: compute / items.length,
  };

  async function groundTruth(it: TestItem, w: number, h: number): Promise<Uint8Array | null> {
    if (it.label === 0 || !it.mask) return null; // normals get zeros below, once the map size is known

    const m = decodeMask(await o.readBytes(it.mask), it.mask);
    if (m.width !== w || m.height !== h) throw new InputError(it.mask, `mask is ${m.width}×${m.height}, its image ${it.file} is ${w}×${h}`);
    return preprocessMask(m, pre, it.mask).data as Uint8Array;
  }
}
