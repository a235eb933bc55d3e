import { describe, expect, it } from 'vitest';
import { holdOutSplit, scoreDetector, validationImages } from '../../../src/selection/held-out.ts';
import { syntheticDefect } from '../../../src/selection/synthetic.ts';
import { selectDetector, selectRefinement, validationFigures, type ValidationFigures } from '../../../src/selection/validate.ts';
import type { AnomalyMap, RgbImage } from '../../../src/types.ts';

function flatImage(w: number, h: number, v: number): RgbImage {
  return { width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) };
}

const figures = (score: number): ValidationFigures => ({ pixelAuroc: score, imageAuroc: score, pixelAp: score, score, normals: 2, defects: 2, synthetic: true });

describe('choosing between the detector in use and a trained one', () => {
  it('holds out every 4th normal and refuses fewer than 4', () => {
    expect(holdOutSplit([0, 1, 2, 3, 4, 5, 6, 7, 8])).toEqual({ fit: [0, 1, 2, 4, 5, 6, 8], heldOut: [3, 7] });
    expect(() => holdOutSplit([1, 2, 3], 'normals here')).toThrow(/normals here: 3 normal image\(s\): training needs at least 4/);
  });

  it('keeps the model in use unless the trained one scores strictly higher', () => {
    expect(selectDetector(figures(0.9), figures(0.91)).keep).toBe('candidate');
    expect(selectDetector(figures(0.9), figures(0.9)).keep).toBe('current');
    expect(selectDetector(figures(0.95), figures(0.6)).keep).toBe('current');
  });

  it('keeps a refinement head only if the map is tighter (pixel AP) and the image decision not more than 1 point worse', () => {
    const f = (pixelAp: number, imageAuroc: number): ValidationFigures => ({ ...figures(0.9), pixelAp, imageAuroc });
    expect(selectRefinement(f(0.5, 0.98), f(0.6, 0.975)).keep).toBe('candidate');
    expect(selectRefinement(f(0.5, 0.98), f(0.5, 0.99)).keep).toBe('current');
    expect(selectRefinement(f(0.5, 0.98), f(0.7, 0.96)).keep).toBe('current');
    expect(selectRefinement(f(0.5, 0.98), f(0.4, 1)).keep).toBe('current');
  });

  it('synthetic defects are seeded, change only the masked pixels, and leave the inputs alone', () => {
    const img = flatImage(64, 48, 100);
    const donor: RgbImage = { width: 64, height: 48, data: Uint8Array.from({ length: 64 * 48 * 3 }, (_, i) => (i * 37) % 256) };
    const before = Uint8Array.from(img.data);
    const a = syntheticDefect(img, donor, 7);
    const b = syntheticDefect(img, donor, 7);
    expect(a.image.data).toEqual(b.image.data);
    expect(img.data).toEqual(before);
    const area = a.mask.data.reduce((s, v) => s + v, 0);
    expect(area).toBeGreaterThan(0);
    expect(area).toBeLessThan(64 * 48 * 0.3);
    let changedOutside = 0;
    let changedInside = 0;
    for (let i = 0; i < 64 * 48; i++) {
      const changed = [0, 1, 2].some((c) => a.image.data[i * 3 + c] !== 100);
      if (a.mask.data[i]) changedInside += changed ? 1 : 0;
      else changedOutside += changed ? 1 : 0;
    }
    expect(changedOutside).toBe(0);
    expect(changedInside).toBeGreaterThan(area / 2);
    expect(syntheticDefect(img, donor, 8).mask.data).not.toEqual(a.mask.data);
  });

  it('a detector whose map lights up the defects outscores one that does not, on the same validation images', async () => {
    const held = [flatImage(32, 32, 90), flatImage(32, 32, 110)];
    const v = validationImages(held, [flatImage(32, 32, 200)]);
    expect(v.synthetic).toBe(true);
    expect(v.images.map((it) => !!it.mask)).toEqual([false, false, true, true]);
    // "Oracle": distance from the flat grey of the normals, at half resolution (masks are resized onto the map).
    const oracle = async (image: RgbImage) => {
      const map: AnomalyMap = { width: 16, height: 16, data: new Float32Array(256) };
      for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
        const i = (2 * y * 32 + 2 * x) * 3;
        map.data[y * 16 + x] = Math.abs(image.data[i] - 100) > 15 ? 1 : 0;
      }
      return { map, score: Math.max(...map.data) };
    };
    const blind = async () => ({ map: { width: 16, height: 16, data: new Float32Array(256) }, score: 0 });
    const good = await scoreDetector(v, oracle);
    const bad = await scoreDetector(v, blind);
    expect(good.pixelAuroc).toBeGreaterThan(0.8);
    expect(good.imageAuroc).toBe(1);
    expect(bad.pixelAuroc).toBe(0.5);
    expect(good).toMatchObject({ normals: 2, defects: 2, synthetic: true });
    expect(selectDetector(bad, good).keep).toBe('candidate');
    expect(selectDetector(good, bad).keep).toBe('current');
  });

  it('accepted defects replace the synthetic ones, and the figures need both kinds of image', () => {
    const held = [flatImage(8, 8, 90)];
    const accepted = [{ image: flatImage(8, 8, 10), mask: { width: 8, height: 8, data: new Uint8Array(64).fill(1) } }];
    const v = validationImages(held, [], accepted);
    expect(v).toMatchObject({ synthetic: false });
    expect(v.images).toHaveLength(2);
    const map = { width: 8, height: 8, data: new Float32Array(64) };
    expect(() => validationFigures([{ map, score: 0, mask: null }], true)).toThrow(/need normals and defects/);
  });
});
