import { InputError } from '../errors.ts';
import { checkMask, tightBox, type BinaryMask } from './mask.ts';

/**
 * CVAT mask shape points (cvat_sdk masks.encode_mask with the tight box): runs over the box crop in row-major
 * order starting with a 0-run, then left, top, right, bottom (inclusive). An empty mask has no CVAT mask shape: null.
 */
export function encodeCvatMask(m: BinaryMask): number[] | null {
  checkMask(m, 'mask');
  const box = tightBox(m);
  if (!box) return null;
  const [l, t, r, b] = box;
  const runs: number[] = [];
  let cur = 0;
  let run = 0;
  for (let y = t; y <= b; y++) {
    for (let x = l; x <= r; x++) {
      const v = m.data[y * m.width + x] ? 1 : 0;
      if (v !== cur) { runs.push(run); run = 0; cur = v; }
      run++;
    }
  }
  runs.push(run);
  return [...runs, l, t, r, b];
}

export function decodeCvatMask(points: number[], width: number, height: number, where = 'points'): BinaryMask {
  if (points.length < 5) throw new InputError(where, `needs run lengths and a box, got ${points.length} numbers`);
  const [l, t, r, b] = points.slice(-4);
  if (!(l >= 0 && t >= 0 && r >= l && b >= t && r < width && b < height) || ![l, t, r, b].every(Number.isInteger)) {
    throw new InputError(where, `box [${l}, ${t}, ${r}, ${b}] does not lie inside the ${width}×${height} image`);
  }
  const cw = r - l + 1;
  const runs = points.slice(0, -4);
  const total = runs.reduce((a, c) => a + c, 0);
  if (runs.some((c) => !Number.isInteger(c) || c < 0) || total !== cw * (b - t + 1)) {
    throw new InputError(where, `run lengths sum to ${total}, but the ${cw}×${b - t + 1} box has ${cw * (b - t + 1)} pixels`);
  }
  const data = new Uint8Array(width * height);
  let p = 0;
  runs.forEach((c, i) => {
    if (i % 2) for (let k = p; k < p + c; k++) data[(t + Math.floor(k / cw)) * width + l + (k % cw)] = 1;
    p += c;
  });
  return { width, height, data };
}
