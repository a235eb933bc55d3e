import { describe, expect, it } from 'vitest';
import { resamplePosEmbed } from '../../../src/encoder/pos-embed.ts';
import { maxAbsDiff } from '../../helpers/shared.ts';

/** torch's bicubic kernel written out per output pixel (16 taps), independent of the separable implementation. */
function naive(table: Float32Array, G: number, C: number, gh: number, gw: number, offset: number): Float32Array {
  const A = -0.75;
  const kern = (x: number) => {
    const a = Math.abs(x);
    return a <= 1 ? ((A + 2) * a - (A + 3)) * a * a + 1 : a < 2 ? ((A * a - 5 * A) * a + 8 * A) * a - 4 * A : 0;
  };
  const out = new Float32Array((1 + gh * gw) * C);
  out.set(table.subarray(0, C));
  for (let i = 0; i < gh; i++) {
    for (let j = 0; j < gw; j++) {
      const sy = (i + 0.5) * (G / (gh + offset)) - 0.5;
      const sx = (j + 0.5) * (G / (gw + offset)) - 0.5;
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let a = -1; a <= 2; a++) {
          for (let b = -1; b <= 2; b++) {
            const y = Math.floor(sy) + a;
            const x = Math.floor(sx) + b;
            const w = kern(sy - y) * kern(sx - x);
            const yy = Math.min(Math.max(y, 0), G - 1);
            const xx = Math.min(Math.max(x, 0), G - 1);
            acc += w * table[(1 + yy * G + xx) * C + c];
          }
        }
        out[(1 + i * gw + j) * C + c] = acc;
      }
    }
  }
  return out;
}

function randomTable(G: number, C: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: (1 + G * G) * C }, () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1);
}

describe('resamplePosEmbed', () => {
  it('matches the 16-tap bicubic formula on square, non-square, up- and down-sampled grids', () => {
    const G = 6;
    const C = 3;
    const table = randomTable(G, C);
    for (const [gh, gw] of [[4, 4], [5, 9], [9, 5], [13, 2], [6, 7]]) {
      expect(maxAbsDiff(resamplePosEmbed(table, C, gh, gw), naive(table, G, C, gh, gw, 0.1)), `${gh}×${gw}`).toBeLessThan(1e-6);
    }
  });

  it('takes rows from the image height and columns from its width (DINOv2 calls the height "w")', () => {
    const G = 5;
    // Channel 0 varies only down the rows, channel 1 only across the columns.
    const table = new Float32Array((1 + G * G) * 2);
    for (let r = 0; r < G; r++) for (let c = 0; c < G; c++) table.set([r, 10 * c], (1 + r * G + c) * 2);
    const gh = 3;
    const gw = 8;
    const out = resamplePosEmbed(table, 2, gh, gw);
    expect(out.length).toBe((1 + gh * gw) * 2);
    const at = (i: number, j: number, ch: number) => out[(1 + i * gw + j) * 2 + ch];
    for (let i = 0; i < gh; i++) for (let j = 1; j < gw; j++) expect(at(i, j, 0)).toBeCloseTo(at(i, 0, 0), 6);
    for (let j = 0; j < gw; j++) for (let i = 1; i < gh; i++) expect(at(i, j, 1)).toBeCloseTo(at(0, j, 1), 6);
    // The row profile follows the height's scale factor G/(gh + 0.1), not the width's.
    const profile = (n: number) => naive(table, G, 2, n, 1, 0.1).filter((_, k) => k >= 2 && k % 2 === 0);
    for (let i = 0; i < gh; i++) expect(at(i, 0, 0)).toBeCloseTo(profile(gh)[i], 6);
    expect(Math.abs(at(1, 0, 0) - profile(gw)[1])).toBeGreaterThan(0.1);
  });

  it('keeps the cls row and returns the stored table unchanged at the stored grid', () => {
    const table = randomTable(4, 2);
    expect(resamplePosEmbed(table, 2, 4, 4)).toBe(table);
    expect(Array.from(resamplePosEmbed(table, 2, 3, 5).subarray(0, 2))).toEqual(Array.from(table.subarray(0, 2)));
    expect(() => resamplePosEmbed(new Float32Array(7 * 2), 2, 2, 2)).toThrow(/1 \+ G²/);
  });
});
