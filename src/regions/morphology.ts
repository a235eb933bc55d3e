import { InputError } from '../errors.ts';
import { checkMask, type BinaryMask } from '../image/mask.ts';
import { labelComponents } from './connected-components.ts';

/**
 * Mask cleaning for proposals: binary morphology with a disc, and hole filling. Pure functions on BinaryMask; each
 * returns a new mask. Off by default in the pipeline: a proposal is exactly map > threshold unless asked for.
 */

/** Half-width of a disc of radius r on row dy: the disc is every (dx, dy) with dx² + dy² ≤ r². */
function discHalfWidths(radius: number): number[] {
  return Array.from({ length: 2 * radius + 1 }, (_, k) => Math.floor(Math.sqrt(radius * radius - (k - radius) ** 2)));
}

function checkRadius(radius: number, where: string): void {
  if (!Number.isSafeInteger(radius) || radius < 0) throw new InputError(where, `must be a non-negative integer radius in pixels, got ${radius}`);
}

/**
 * Erosion or dilation with a disc, counting on pixels per disc row with row prefix sums (O(pixels · (2r + 1))).
 * Outside the image counts as on for erosion and off for dilation (OpenCV's default borders), so a defect touching
 * the image edge is not eaten away from outside.
 */
function morph(m: BinaryMask, radius: number, erode: boolean): BinaryMask {
  const { width: w, height: h, data } = m;
  const pre = new Int32Array((w + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) pre[y * (w + 1) + x + 1] = pre[y * (w + 1) + x] + data[y * w + x];
  }
  const half = discHalfWidths(radius);
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let hit = erode;
      for (let dy = -radius; dy <= radius; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        const a = half[dy + radius];
        const x0 = Math.max(0, x - a);
        const x1 = Math.min(w - 1, x + a);
        const on = pre[yy * (w + 1) + x1 + 1] - pre[yy * (w + 1) + x0];
        if (erode ? on < x1 - x0 + 1 : on > 0) { hit = !erode; break; }
      }
      out[y * w + x] = hit ? 1 : 0;
    }
  }
  return { width: w, height: h, data: out };
}

export function erodeMask(m: BinaryMask, radius: number): BinaryMask {
  checkMask(m);
  checkRadius(radius, 'radius');
  return morph(m, radius, true);
}

export function dilateMask(m: BinaryMask, radius: number): BinaryMask {
  checkMask(m);
  checkRadius(radius, 'radius');
  return morph(m, radius, false);
}

/** Opening (erode, then dilate): removes specks and spurs thinner than the disc. */
export function openMask(m: BinaryMask, radius: number): BinaryMask {
  return dilateMask(erodeMask(m, radius), radius);
}

/** Closing (dilate, then erode): fills gaps and notches narrower than the disc. */
export function closeMask(m: BinaryMask, radius: number): BinaryMask {
  return erodeMask(dilateMask(m, radius), radius);
}

/**
 * Sets every hole: an off region that does not reach the image border. Off regions are 4-connected, the dual of the
 * 8-connected on regions we label, so a diagonal gap in an outline is not a way out.
 */
export function fillHoles(m: BinaryMask): BinaryMask {
  checkMask(m);
  const { width: w, height: h, data } = m;
  const off = new Uint8Array(w * h);
  for (let i = 0; i < off.length; i++) off[i] = data[i] ? 0 : 1;
  const { labels, count } = labelComponents(off, w, h, 4);
  const outside = new Uint8Array(count + 1);
  for (let x = 0; x < w; x++) { outside[labels[x]] = 1; outside[labels[(h - 1) * w + x]] = 1; }
  for (let y = 0; y < h; y++) { outside[labels[y * w]] = 1; outside[labels[y * w + w - 1]] = 1; }
  const out = new Uint8Array(w * h);
  for (let i = 0; i < out.length; i++) out[i] = data[i] || !outside[labels[i]] ? 1 : 0;
  return { width: w, height: h, data: out };
}

export interface CleanOptions {
  /** Opening then closing with a disc of this radius (pixels); 0 or absent = none. */
  smoothRadius?: number;
  /** Fill holes after smoothing. */
  fillHoles?: boolean;
}

/** Smoothing (open, then close: drop specks first so closing cannot grow them), then hole filling; both optional. */
export function cleanMask(m: BinaryMask, options: CleanOptions = {}): BinaryMask {
  checkMask(m);
  const r = options.smoothRadius ?? 0;
  checkRadius(r, 'smoothRadius');
  let out = r > 0 ? closeMask(openMask(m, r), r) : m;
  if (options.fillHoles) out = fillHoles(out);
  return out;
}
