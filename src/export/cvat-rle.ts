import { InputError } from '../errors.ts';
import { checkMask, checkSize, tightBox, type BinaryMask } from '../image/mask.ts';

/**
 * `points` of a CVAT mask shape, as cvat_sdk.masks.encode_mask writes them for the mask's tight box: run lengths over
 * the box crop in row-major order, alternating and starting with 0s (so 0 first if the crop's first pixel is on),
 * then left, top, right, bottom, inclusive. An empty mask has no box and no CVAT mask shape: null.
 */
export function encodeCvatMask(m: BinaryMask): number[] | null {
  checkMask(m);
  const box = tightBox(m);
  if (!box) return null;
  const [l, t, r, b] = box;
  const points: number[] = [];
  let cur = 0;
  let run = 0;
  for (let y = t; y <= b; y++) {
    for (let i = y * m.width + l; i <= y * m.width + r; i++) {
      if (m.data[i] !== cur) { points.push(run); run = 0; cur = m.data[i]; }
      run++;
    }
  }
  points.push(run, l, t, r, b);
  return points;
}

/** Expands CVAT mask `points` (runs over the box, then the inclusive box) into a full width × height mask. */
export function decodeCvatMask(points: readonly number[], width: number, height: number, where = 'points'): BinaryMask {
  checkSize(width, height, where);
  if (!Array.isArray(points) || points.length < 5) {
    throw new InputError(where, `needs run lengths followed by left, top, right, bottom; got ${Array.isArray(points) ? `${points.length} numbers` : typeof points}`);
  }
  for (let i = 0; i < points.length; i++) {
    if (!Number.isSafeInteger(points[i]) || points[i] < 0) throw new InputError(`${where}[${i}]`, `must be a non-negative integer, got ${points[i]}`);
  }
  const [l, t, r, b] = points.slice(-4);
  if (r < l || b < t || r >= width || b >= height) {
    throw new InputError(where, `box [${l}, ${t}, ${r}, ${b}] does not lie inside the ${width}×${height} image (left ≤ right < width, top ≤ bottom < height)`);
  }
  const cw = r - l + 1;
  const ch = b - t + 1;
  const runs = points.length - 4;
  let total = 0;
  for (let i = 0; i < runs; i++) total += points[i];
  if (total !== cw * ch) throw new InputError(where, `run lengths sum to ${total}, but the ${cw}×${ch} box has ${cw * ch} pixels`);
  const data = new Uint8Array(width * height);
  let p = 0;
  for (let i = 0; i < runs; i++) {
    if (i % 2) {
      let y = Math.floor(p / cw);
      let x = p - y * cw;
      for (let k = 0; k < points[i]; k++) {
        data[(t + y) * width + l + x] = 1;
        if (++x === cw) { x = 0; y++; }
      }
    }
    p += points[i];
  }
  return { width, height, data };
}
