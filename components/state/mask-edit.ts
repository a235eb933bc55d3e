import type { BinaryMask } from '../../src/web.ts';

/** Raster edits of a 0/1 mask (brush, eraser, polygon add/subtract). Each returns a new mask; the input is kept for undo. */

export type Point = [x: number, y: number];

/** A round brush dragged from `a` to `b` (discs every half radius), setting pixels to `value`. */
export function paintStroke(m: BinaryMask, a: Point, b: Point, radius: number, value: 0 | 1): BinaryMask {
  const out = { width: m.width, height: m.height, data: m.data.slice() };
  const steps = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1]) / Math.max(0.5, radius / 2)));
  const r2 = radius * radius;
  for (let s = 0; s <= steps; s++) {
    const cx = a[0] + ((b[0] - a[0]) * s) / steps;
    const cy = a[1] + ((b[1] - a[1]) * s) / steps;
    const y0 = Math.max(0, Math.floor(cy - radius));
    const y1 = Math.min(m.height - 1, Math.ceil(cy + radius));
    const x0 = Math.max(0, Math.floor(cx - radius));
    const x1 = Math.min(m.width - 1, Math.ceil(cx + radius));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        // Pixel centres, so a radius-0.5 brush paints exactly the pixel under the pointer.
        if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r2) out.data[y * m.width + x] = value;
      }
    }
  }
  return out;
}

/** Fills a closed polygon (even-odd rule, pixel centres) with `value`. */
export function fillPolygon(m: BinaryMask, pts: readonly Point[], value: 0 | 1): BinaryMask {
  const out = { width: m.width, height: m.height, data: m.data.slice() };
  if (pts.length < 3) return out;
  const ys = pts.map((p) => p[1]);
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(m.height - 1, Math.ceil(Math.max(...ys)));
  for (let y = y0; y <= y1; y++) {
    const yc = y + 0.5;
    const xs: number[] = [];
    for (let i = 0; i < pts.length; i++) {
      const [ax, ay] = pts[i];
      const [bx, by] = pts[(i + 1) % pts.length];
      if ((ay <= yc) !== (by <= yc)) xs.push(ax + ((yc - ay) * (bx - ax)) / (by - ay));
    }
    xs.sort((p, q) => p - q);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const from = Math.max(0, Math.ceil(xs[k] - 0.5));
      const to = Math.min(m.width - 1, Math.floor(xs[k + 1] - 0.5));
      for (let x = from; x <= to; x++) out.data[y * m.width + x] = value;
    }
  }
  return out;
}

export function emptyMask(width: number, height: number): BinaryMask {
  return { width, height, data: new Uint8Array(width * height) };
}

export function maskArea(m: BinaryMask): number {
  let n = 0;
  for (const v of m.data) n += v;
  return n;
}
