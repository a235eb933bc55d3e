import { calibrationFor, DEFAULT_MAX_QUEUE, mapImages, serialQueue, type ServedModel } from '../../src/pipeline/served-model.ts';
import { proposeRegions } from '../../src/annotate/proposals.ts';
import { tightBox, type BinaryMask } from '../../src/image/mask.ts';
import { maskToRings } from '../../src/export/coco-polygon.ts';
import { decodeBase64 } from '../../src/io/base64.ts';
import { decodeUpload, HttpError } from '../../src/platform/node/http.ts';
import { normalizeScore } from '../../src/threshold/calibration.ts';
import { calibrationAt } from '../../src/threshold/confidence.ts';

/**
 * CVAT's serverless detector contract (integrations.md §2.2; cvat/apps/lambda_manager/views.py): the body
 * `{image: <base64 frame>, threshold?: 0–1}` → `[{label, type: "mask", mask: [crop…, xtl, ytl, xbr, ybr], confidence}]`.
 * `mask` is the region's box crop as raw 0/255 pixels, row-major, then its inclusive box, as CVAT's own functions
 * return it (serverless/common/openvino/shared.py to_cvat_mask); CVAT turns the crop into its mask RLE.
 * The same handler serves the HTTP server (serve-cvat) and the Nuclio entry (nuclio/main.js).
 */

/**
 * One detector result as CVAT's serverless functions answer it: the mask (box crop + box) and, as `points`, the
 * region's outer polygon (pixel corners, x y x y …; holes are in the mask only), which CVAT's "convert masks to
 * polygons" uses.
 */
export interface CvatShape { label: string; type: 'mask'; mask: number[]; points: number[]; confidence: string; attributes: [] }

/** `maxQueue`: requests allowed to wait for the model; one more is refused with 503 at once. */
export interface DetectorOptions {
  model: ServedModel; label: string; maxPixels: number; maxQueue?: number;
  /** A request that waited this long for the model is answered 503 instead of run (its caller has likely given up). */
  deadlineMs?: number;
}

/** A one-region mask's outer boundary as a flat polygon; the largest ring if the mask has several. */
export function outerPolygon(m: BinaryMask): number[] {
  const rings = maskToRings(m).map((r) => r.exterior);
  const area = (p: number[]) => Math.abs(p.reduce((s, _, i) => (i % 2 ? s : s + p[i] * p[(i + 3) % p.length] - p[(i + 2) % p.length] * p[i + 1]), 0)) / 2;
  return rings.reduce((best, r) => (area(r) > area(best) ? r : best), rings[0] ?? []);
}

/** The box crop of a mask as 0/255, row-major, followed by the inclusive box. */
export function toCvatMask(m: BinaryMask): number[] {
  const box = tightBox(m);
  if (!box) throw new Error('an empty region has no CVAT mask');
  const [l, t, r, b] = box;
  const out: number[] = [];
  for (let y = t; y <= b; y++) for (let x = l; x <= r; x++) out.push(m.data[y * m.width + x] ? 255 : 0);
  out.push(l, t, r, b);
  return out;
}

/** A detector function over one model; requests queue for the model one at a time. */
export function createCvatDetector(o: DetectorOptions): (body: unknown, signal?: AbortSignal) => Promise<CvatShape[]> {
  const queue = serialQueue({
    maxWaiting: o.maxQueue ?? DEFAULT_MAX_QUEUE, ...(o.deadlineMs !== undefined ? { deadlineMs: o.deadlineMs } : {}), refuse: (reason) => new HttpError(503, reason),
  });
  return async (body, signal) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'request body must be a JSON object {"image": <base64>, "threshold": <0–1>}');
    const { image, threshold } = body as Record<string, unknown>;
    if (image === undefined) throw new HttpError(400, '"image" is missing: send the frame as base64');
    // CVAT leaves threshold out when the user gave none (or 0): the calibrated threshold then.
    const t = threshold === undefined || threshold === null ? 0.5 : threshold as number;
    const bytes = decodeBase64(image, 'image');
    const model = o.model;
    // Decoded inside the queue: concurrent requests hold their compressed bytes while they wait, never their pixels.
    return queue(async () => {
      const [m] = await mapImages(model, [{ image: decodeUpload(bytes, 'image', o.maxPixels), where: 'image' }]);
      const cal = calibrationFor([m.map], model.threshold);
      const p = proposeRegions(m.map, m.score, calibrationAt(cal, t, 'threshold'), model.options);
      // Confidence stays on the calibrated scale (0.5 = calibrated threshold), so every shape has confidence > t.
      return p.regions.map((r): CvatShape => ({
        label: o.label, type: 'mask', mask: toCvatMask(r.mask), points: outerPolygon(r.mask), confidence: normalizeScore(r.maxScore, cal.pixelThreshold, cal).toFixed(4), attributes: [],
      }));
    }, signal);
  };
}
