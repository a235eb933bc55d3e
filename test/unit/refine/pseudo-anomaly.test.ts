import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/inp-former/init.ts';
import { pasteDefect, perlinMask, pseudoAnomaly } from '../../../src/refine/pseudo-anomaly.ts';
import type { RgbImage } from '../../../src/types.ts';

const image = (w: number, h: number, seed: number): RgbImage => {
  const r = seededRandom(seed);
  return { width: w, height: h, data: Uint8Array.from({ length: w * h * 3 }, () => 60 + Math.floor(40 * r())) };
};

describe('pseudo-anomalies for the refinement head', () => {
  it('is seeded: the same images and seed give the same image and mask, another seed another one', () => {
    const [a, b] = [image(96, 80, 1), image(96, 80, 2)];
    const x = pseudoAnomaly(a, b, 42);
    const y = pseudoAnomaly(a, b, 42);
    const z = pseudoAnomaly(a, b, 43);
    expect(Buffer.from(x.image.data).equals(Buffer.from(y.image.data))).toBe(true);
    expect(Buffer.from(x.mask.data).equals(Buffer.from(y.mask.data))).toBe(true);
    expect(Buffer.from(x.mask.data).equals(Buffer.from(z.mask.data))).toBe(false);
  });

  it('every mask is non-empty, inside the image, defect-sized (0.3–20 %), and only masked pixels change', () => {
    const [a, b] = [image(64, 64, 3), image(64, 64, 4)];
    for (let seed = 0; seed < 40; seed++) {
      const { image: out, mask } = pseudoAnomaly(a, b, seed);
      expect([mask.width, mask.height]).toEqual([64, 64]);
      expect(mask.data.length).toBe(64 * 64);
      const area = mask.data.reduce((n, v) => n + v, 0) / mask.data.length;
      expect(area).toBeGreaterThanOrEqual(0.003);
      expect(area).toBeLessThanOrEqual(0.2);
      expect(mask.data.every((v) => v === 0 || v === 1)).toBe(true);
      for (let i = 0; i < mask.data.length; i++) {
        if (!mask.data[i]) expect([out.data[i * 3], out.data[i * 3 + 1], out.data[i * 3 + 2]]).toEqual([a.data[i * 3], a.data[i * 3 + 1], a.data[i * 3 + 2]]);
      }
    }
    // The inputs are untouched.
    expect(a.data).toEqual(image(64, 64, 3).data);
  });

  it('Perlin masks stay in the area band also on small and non-square images', () => {
    const rand = seededRandom(9);
    for (const [w, h] of [[16, 16], [40, 24], [200, 120]]) {
      const m = perlinMask(w, h, rand);
      const area = m.data.reduce((n, v) => n + v, 0);
      expect(area).toBeGreaterThan(0);
      expect(area / (w * h)).toBeLessThanOrEqual(0.2);
    }
  });

  it('pastes a real defect: the mask moves with the pixels, the same shape and size', () => {
    const normal = image(50, 40, 5);
    const defect = { image: { width: 50, height: 40, data: new Uint8Array(50 * 40 * 3).fill(250) }, mask: { width: 50, height: 40, data: new Uint8Array(50 * 40) } };
    for (let y = 10; y < 14; y++) for (let x = 20; x < 27; x++) defect.mask.data[y * 50 + x] = 1;
    const out = pasteDefect(normal, defect, 3);
    expect(out.mask.data.reduce((n, v) => n + v, 0)).toBe(28);
    for (let i = 0; i < 50 * 40; i++) {
      const px = [...out.image.data.subarray(i * 3, i * 3 + 3)];
      expect(px).toEqual(out.mask.data[i] ? [250, 250, 250] : [...normal.data.subarray(i * 3, i * 3 + 3)]);
    }
    expect(() => pasteDefect(image(30, 30, 1), defect, 1, 'crack.png')).toThrow(/crack\.png.*30×30/);
    expect(() => pasteDefect(normal, { ...defect, mask: { width: 50, height: 40, data: new Uint8Array(2000) } }, 1, 'empty.png')).toThrow(/empty\.png.*mask is empty/);
  });
});
