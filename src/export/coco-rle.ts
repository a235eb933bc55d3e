import { InputError } from '../errors.ts';
import { checkMask, type BinaryMask } from './mask.ts';

/** COCO RLE as pycocotools writes it: `size` is [height, width]; counts run over the column-major flattening. */
export interface CocoRle { size: [number, number]; counts: number[] }
export interface CocoRleString { size: [number, number]; counts: string }

/** cocoapi rleEncode: alternating runs of 0s and 1s in column-major order, starting with 0s. */
export function encodeCocoRle(m: BinaryMask): CocoRle {
  checkMask(m, 'mask');
  const { width: w, height: h, data } = m;
  const counts: number[] = [];
  let cur = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = data[y * w + x] ? 1 : 0;
      if (v !== cur) { counts.push(run); run = 0; cur = v; }
      run++;
    }
  }
  counts.push(run);
  return { size: [h, w], counts };
}

function checkCounts(counts: number[], h: number, w: number, where: string): void {
  let sum = 0;
  for (const [i, c] of counts.entries()) {
    if (!Number.isInteger(c) || c < 0) throw new InputError(`${where}.counts[${i}]`, `must be a non-negative integer, got ${c}`);
    sum += c;
  }
  if (sum !== h * w) throw new InputError(`${where}.counts`, `sum to ${sum}, but size ${h}×${w} has ${h * w} pixels`);
}

export function decodeCocoRle(rle: CocoRle | CocoRleString, where = 'segmentation'): BinaryMask {
  const [h, w] = rle.size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0) throw new InputError(`${where}.size`, `must be [height, width], got ${JSON.stringify(rle.size)}`);
  const counts = typeof rle.counts === 'string' ? cocoStringToCounts(rle.counts, where) : rle.counts;
  checkCounts(counts, h, w, where);
  const data = new Uint8Array(h * w);
  let p = 0;
  counts.forEach((c, i) => {
    if (i % 2) for (let k = p; k < p + c; k++) { const x = Math.floor(k / h); data[(k - x * h) * w + x] = 1; }
    p += c;
  });
  return { width: w, height: h, data };
}

/** cocoapi rleToString: LEB128-like 5-bit groups, deltas against counts[i−2] for i > 2. */
export function cocoCountsToString(counts: number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5;
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

/** cocoapi rleFrString. */
export function cocoStringToCounts(s: string, where = 'counts'): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    let c = 0;
    while (more) {
      if (p >= s.length) throw new InputError(where, 'compressed RLE string ends in the middle of a value');
      c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new InputError(where, `invalid character ${JSON.stringify(s[p])} at ${p} in a compressed RLE string`);
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++; k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

/** cocoapi rleArea: the number of on pixels. */
export function cocoArea(rle: CocoRle): number {
  let a = 0;
  for (let i = 1; i < rle.counts.length; i += 2) a += rle.counts[i];
  return a;
}

/** cocoapi rleToBbox ([x, y, w, h]; all zeros when empty), including its whole-height rule for wrapping runs. */
export function cocoBbox(rle: CocoRle): [number, number, number, number] {
  const [h, w] = rle.size;
  const m = rle.counts.length & ~1;
  if (m === 0) return [0, 0, 0, 0];
  let xs = w; let ys = h; let xe = 0; let ye = 0; let cc = 0; let xp = 0;
  for (let j = 0; j < m; j++) {
    cc += rle.counts[j];
    const t = cc - (j % 2);
    const y = t % h;
    const x = (t - y) / h;
    if (j % 2 === 0) xp = x;
    else if (xp < x) { ys = 0; ye = h - 1; }
    xs = Math.min(xs, x); xe = Math.max(xe, x); ys = Math.min(ys, y); ye = Math.max(ye, y);
  }
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}
