import { readFileSync } from 'node:fs';
import { decode as decodePng } from 'fast-png';
import { expect } from 'vitest';
import type { BinaryMask } from '../../../src/image/mask.ts';
import { fixture, HAS_FIXTURES, loadFixtureJson } from '../../helpers/shared.ts';
import { seededRandom } from '../../../src/inp-former/init.ts';

/** One mask of fixtures/rle/golden.json (see its README). */
export interface GoldenCase {
  height: number;
  width: number;
  png: string;
  mask: number[][];
  num_on: number;
  coco: { size: [number, number]; counts: number[]; counts_string: string; area: number; bbox_xywh: number[] };
  labelstudio: { rle: number[]; num_values: number };
  cvat: { points: number[]; bbox_ltrb_inclusive: number[] } | null;
  cvat_full_image_box_points?: number[];
}

export const GOLDEN: Record<string, GoldenCase> = HAS_FIXTURES ? loadFixtureJson('rle', 'golden.json').masks : {};

export function goldenMask(g: GoldenCase): BinaryMask {
  return { width: g.width, height: g.height, data: Uint8Array.from(g.mask.flat()) };
}

/** The case's PNG as a mask (8-bit grayscale, 0 = off, 255 = on). */
export function pngMask(g: GoldenCase): BinaryMask {
  const png = decodePng(readFileSync(fixture('rle', g.png)));
  expect([png.width, png.height, png.channels, png.depth]).toEqual([g.width, g.height, 1, 8]);
  const data = new Uint8Array(png.width * png.height);
  png.data.forEach((v, i) => {
    expect([0, 255]).toContain(v);
    data[i] = v ? 1 : 0;
  });
  return { width: png.width, height: png.height, data };
}


export function maskFrom(width: number, height: number, on: (x: number, y: number) => boolean): BinaryMask {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = on(x, y) ? 1 : 0;
  return { width, height, data };
}

/** Masks that stress the codecs: 1×1, odd and thin sizes, empty, full, noise, blobs, checkerboards, runs > 65,536. */
export function propertyMasks(seed: number): Array<{ name: string; mask: BinaryMask }> {
  const rand = seededRandom(seed);
  const out: Array<{ name: string; mask: BinaryMask }> = [];
  const add = (name: string, w: number, h: number, on: (x: number, y: number) => boolean) => out.push({ name: `${name} ${w}×${h}`, mask: maskFrom(w, h, on) });
  add('on', 1, 1, () => true);
  add('off', 1, 1, () => false);
  for (const [w, h] of [[7, 5], [5, 7], [13, 1], [1, 17], [33, 19], [2, 2]]) {
    add('empty', w, h, () => false);
    add('full', w, h, () => true);
    add('checkerboard', w, h, (x, y) => (x + y) % 2 === 0);
    add('noise', w, h, () => rand() < 0.4);
  }
  for (let k = 0; k < 40; k++) {
    const w = 1 + Math.floor(rand() * 48);
    const h = 1 + Math.floor(rand() * 48);
    const p = rand();
    if (k % 2) {
      add(`noise p=${p.toFixed(2)}`, w, h, () => rand() < p);
    } else {
      const blobs = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => [rand() * w, rand() * h, 1 + rand() * 0.4 * Math.max(w, h), rand() * 0.5]);
      // Rings (r·ratio < d < r) give holes; ratio 0 gives discs.
      add('blobs', w, h, (x, y) => blobs.some(([cx, cy, r, ratio]) => {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        return d < r && d >= r * ratio;
      }));
    }
  }
  // Long runs: COCO and CVAT counts > 65,536 (full 300×250); Label Studio runs (4 values a pixel) split into
  // 65,536-value chunks, leaving a remainder ≤ 256 (a 16,385-pixel run), > 256, or none.
  add('full', 300, 250, () => true);
  add('one long row run', 16385, 2, (x, y) => y === 0);
  add('exactly one chunk per row', 16384, 2, (x, y) => y === 0);
  add('exactly two chunks', 32768, 1, () => true);
  add('lower half', 129, 1040, (x, y) => y >= 520);
  return out;
}

/** Equal masks, reported by the first differing pixel (toEqual on large typed arrays is slow and unreadable). */
export function expectSameMask(actual: BinaryMask, expected: BinaryMask): void {
  expect([actual.width, actual.height, actual.data.length]).toEqual([expected.width, expected.height, expected.data.length]);
  const i = actual.data.findIndex((v, k) => v !== expected.data[k]);
  const at = i < 0 ? 'none' : `(x ${i % expected.width}, y ${Math.floor(i / expected.width)}): ${actual.data[i]} vs ${expected.data[i]}`;
  expect(at, 'first differing pixel').toBe('none');
}

export function countOn(m: BinaryMask): number {
  let n = 0;
  for (const v of m.data) n += v;
  return n;
}
