import { describe, expect, it } from 'vitest';
import { FEW_SHOT_VIEWS, fewShotViewsHost } from '../../../src/train/augment.ts';
import { warmCosineLr } from '../../../src/train/schedule.ts';

const C = 3, H = 6, W = 6;
const img = Float32Array.from({ length: C * H * W }, (_, i) => Math.sin(i * 0.7) + i * 0.01);
const at = (d: Float32Array, c: number, y: number, x: number) => d[(c * H + y) * W + x];

describe('few-shot augmentation set (spec §3)', () => {
  const v = fewShotViewsHost(img, C, H, W);
  it('makes 22 views: original, 8 rotations, 8 translations, flip, grayscale, 90/180/270°', () => {
    expect(v).toHaveLength(FEW_SHOT_VIEWS);
    expect(v[0]).toEqual(img);
    for (const x of v) expect(x.every(Number.isFinite)).toBe(true);
  });
  it('flips horizontally, grays with kornia weights, and turns quarter turns exactly (counter-clockwise)', () => {
    const [flip, gray, r90, r180, r270] = v.slice(17);
    expect(at(flip, 1, 2, 0)).toBe(at(img, 1, 2, W - 1));
    const g = 0.299 * at(img, 0, 3, 4) + 0.587 * at(img, 1, 3, 4) + 0.114 * at(img, 2, 3, 4);
    for (let c = 0; c < 3; c++) expect(at(gray, c, 3, 4)).toBeCloseTo(g, 6);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        expect(at(r90, 0, y, x)).toBeCloseTo(at(img, 0, x, W - 1 - y), 6);
        expect(at(r180, 2, y, x)).toBeCloseTo(at(img, 2, H - 1 - y, W - 1 - x), 6);
        expect(at(r270, 1, y, x)).toBeCloseTo(at(img, 1, H - 1 - x, y), 6);
      }
    }
  });
  it('translates by a fraction of the normalised grid, bilinearly', () => {
    // Translation (0.2, 0.2) in normalised units is 0.6 px on a 6-px side: source = (x + 0.6, y + 0.6), bilinear.
    const t = v[9];
    const want = (at(img, 0, 2, 1) * 0.4 + at(img, 0, 2, 2) * 0.6) * 0.4 + (at(img, 0, 3, 1) * 0.4 + at(img, 0, 3, 2) * 0.6) * 0.6;
    expect(at(t, 0, 2, 1)).toBeCloseTo(want, 5);
  });
});

describe('warm-up + cosine schedule', () => {
  const s = { base: 1e-3, final: 1e-4, total: 10, warmup: 3 };
  it('warms up linearly from 0 (numpy linspace), then follows the cosine, then stays at final', () => {
    expect([0, 1, 2].map((t) => warmCosineLr(t, s))).toEqual([0, 5e-4, 1e-3]);
    expect(warmCosineLr(3, s)).toBe(1e-3);
    expect(warmCosineLr(9, s)).toBeCloseTo(1e-4 + 0.5 * 9e-4 * (1 + Math.cos((Math.PI * 6) / 7)), 15);
    expect(warmCosineLr(10, s)).toBe(1e-4);
    expect(warmCosineLr(0, { ...s, warmup: 0 })).toBe(1e-3);
    expect(warmCosineLr(0, { ...s, warmup: 1 })).toBe(0);
  });
});
