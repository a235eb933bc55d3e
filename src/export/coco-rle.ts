import { InputError } from '../errors.ts';
import { checkMask, checkSize, type BinaryMask } from '../image/mask.ts';

/**
 * COCO RLE as cocoapi (common/maskApi.c) defines it: `size` is [height, width]; `counts` alternate runs of 0s and
 * 1s over the column-major flattening (index x·height + y), starting with 0s, summing to height·width.
 */
export interface CocoRle { size: [number, number]; counts: number[] }
/** The same with `counts` compressed as rleToString writes it (what pycocotools `encode` returns). */
export interface CocoRleString { size: [number, number]; counts: string }

/** cocoapi rleEncode. */
export function encodeCocoRle(m: BinaryMask): CocoRle {
  checkMask(m);
  const { width: w, height: h, data } = m;
  const counts: number[] = [];
  let cur = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let i = x; i < data.length; i += w) {
      if (data[i] !== cur) { counts.push(run); run = 0; cur = data[i]; }
      run++;
    }
  }
  counts.push(run);
  return { size: [h, w], counts };
}

/** cocoapi rleDecode, after checking that the RLE is well formed. */
export function decodeCocoRle(rle: CocoRle | CocoRleString, where = 'segmentation'): BinaryMask {
  const { h, w, counts } = readCocoRle(rle, where);
  const data = new Uint8Array(h * w);
  paintCocoRuns(counts, h, w, data);
  return { width: w, height: h, data };
}

/**
 * Sets to 1 the pixels of the on-runs of checked `counts` in a row-major h × w array, leaving the others as they are
 * (so several RLEs can be painted into one mask: their union, like cocoapi rleMerge).
 */
export function paintCocoRuns(counts: readonly number[], h: number, w: number, data: Uint8Array): void {
  let p = 0;
  for (let i = 0; i < counts.length; i++) {
    if (i % 2) {
      // Walk the on-run down its columns without a division per pixel.
      let x = Math.floor(p / h);
      let y = p - x * h;
      for (let k = 0; k < counts[i]; k++) {
        data[y * w + x] = 1;
        if (++y === h) { y = 0; x++; }
      }
    }
    p += counts[i];
  }
}

/**
 * cocoapi rleToString: per count, 5-bit groups least significant first, bit 0x20 = more groups follow, +48; from
 * index 3 on (i > 2, not i ≥ 2) the value written is counts[i] − counts[i−2]. Uses exact arithmetic instead of
 * 32-bit shifts, so counts up to cocoapi's uint limit (and beyond) round-trip.
 */
export function cocoCountsToString(counts: readonly number[], where = 'counts'): string {
  const chars: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    if (!Number.isSafeInteger(counts[i]) || counts[i] < 0) {
      throw new InputError(`${where}[${i}]`, `must be a non-negative integer, got ${counts[i]}`);
    }
    let x = i > 2 ? counts[i] - counts[i - 2] : counts[i];
    for (;;) {
      const c = ((x % 32) + 32) % 32;
      x = (x - c) / 32; // arithmetic shift right by 5
      const more = c & 0x10 ? x !== -1 : x !== 0;
      chars.push(48 + (more ? c | 0x20 : c));
      if (!more) break;
    }
  }
  let s = '';
  // fromCharCode in slices: one call per character is slow, one call for all can overflow the argument limit.
  for (let i = 0; i < chars.length; i += 8192) s += String.fromCharCode(...chars.slice(i, i + 8192));
  return s;
}

/** cocoapi rleFrString, rejecting what it would silently misread (other characters, a cut-off value, negative runs). */
export function cocoStringToCounts(s: string, where = 'counts'): number[] {
  if (typeof s !== 'string') throw new InputError(where, `must be a string, got ${typeof s}`);
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let scale = 1;
    let c: number;
    do {
      if (p >= s.length) throw new InputError(where, `compressed RLE string ends in the middle of value ${counts.length}`);
      c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new InputError(where, `invalid character ${JSON.stringify(s[p])} at ${p} in a compressed RLE string (allowed: '0'…'o')`);
      x += (c & 0x1f) * scale;
      scale *= 32;
      p++;
    } while (c & 0x20);
    if (c & 0x10) x -= scale; // sign-extend the last group
    if (counts.length > 2) x += counts[counts.length - 2];
    if (!Number.isSafeInteger(x) || x < 0) {
      throw new InputError(`${where}[${counts.length}]`, `compressed RLE string decodes to run length ${x}; run lengths must be non-negative integers`);
    }
    counts.push(x);
  }
  return counts;
}

/** cocoapi rleArea: the number of on pixels. */
export function cocoArea(rle: CocoRle | CocoRleString, where = 'segmentation'): number {
  const { counts } = readCocoRle(rle, where);
  let a = 0;
  for (let i = 1; i < counts.length; i += 2) a += counts[i];
  return a;
}

/**
 * cocoapi rleToBbox: tight [x, y, width, height], all zeros when empty. An on-run that wraps from one column into the
 * next covers the last row of the first and the first row of the next, hence the full height. Equal to rleToBbox for
 * every RLE without empty on-runs (all rleEncode writes); rleToBbox would count the pixel before an empty on-run.
 */
export function cocoBbox(rle: CocoRle | CocoRleString, where = 'segmentation'): [number, number, number, number] {
  const { h, w, counts } = readCocoRle(rle, where);
  let xs = w; let ys = h; let xe = -1; let ye = -1;
  let p = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (i % 2 && c > 0) {
      const x0 = Math.floor(p / h);
      const x1 = Math.floor((p + c - 1) / h);
      if (x1 > x0) { ys = 0; ye = h - 1; } else { ys = Math.min(ys, p - x0 * h); ye = Math.max(ye, p + c - 1 - x1 * h); }
      xs = Math.min(xs, x0);
      xe = Math.max(xe, x1);
    }
    p += c;
  }
  return xe < 0 ? [0, 0, 0, 0] : [xs, ys, xe - xs + 1, ye - ys + 1];
}

/** Checks size and counts (non-negative integers summing to h·w), decompressing a string first. */
function readCocoRle(rle: CocoRle | CocoRleString, where: string): { h: number; w: number; counts: number[] } {
  if (!rle || !Array.isArray(rle.size) || rle.size.length !== 2) {
    throw new InputError(`${where}.size`, `must be [height, width], got ${JSON.stringify(rle?.size)}`);
  }
  const [h, w] = rle.size;
  checkSize(w, h, `${where}.size`);
  const counts = typeof rle.counts === 'string' ? cocoStringToCounts(rle.counts, `${where}.counts`) : rle.counts;
  if (!Array.isArray(counts)) throw new InputError(`${where}.counts`, `must be a list of run lengths or a compressed string, got ${typeof counts}`);
  let sum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (!Number.isSafeInteger(c) || c < 0) throw new InputError(`${where}.counts[${i}]`, `must be a non-negative integer, got ${c}`);
    sum += c;
  }
  if (sum !== h * w) throw new InputError(`${where}.counts`, `sum to ${sum}, but size ${h}×${w} has ${h * w} pixels`);
  return { h, w, counts };
}
