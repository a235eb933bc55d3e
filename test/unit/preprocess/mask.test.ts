import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeMask } from '../../../src/image/decode.ts';
import { maskTransform, nearestIndex, preprocessMask } from '../../../src/preprocess/mask.ts';
import { OFFICIAL_PREPROCESS } from '../../../src/preprocess/preprocess.ts';
import type { PreprocessConfig } from '../../../src/types.ts';
import { fixture, HAS_FIXTURES, loadFixtureTensors, skipReason } from '../../helpers/shared.ts';

const SKIP = HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`;
const AT_256: PreprocessConfig = { ...OFFICIAL_PREPROCESS, resize: 256, crop: 224, mapSize: 224 };

describe.skipIf(!HAS_FIXTURES)(`official mask transform${SKIP}`, () => {
  // Read lazily: the describe body runs even when the suite is skipped.
  const loadMask = () => decodeMask(new Uint8Array(readFileSync(fixture('preprocess', 'c_613x517_mask.png'))), 'c_mask');
  const loadGolden = () => loadFixtureTensors('preprocess', 'golden_r256c224.safetensors').get('c_613x517_mask')!;

  it('equals golden_r256c224.safetensors bit for bit', () => {
    const mask = loadMask();
    const golden = loadGolden();
    expect(golden.shape).toEqual([1, 1, 224, 224]);
    const got = maskTransform(mask, AT_256, 'c_mask');
    const g = golden.data as Float32Array;
    expect(Buffer.compare(Buffer.from(got.buffer), Buffer.from(g.buffer, g.byteOffset, g.byteLength))).toBe(0);
  });

  it('binarises at > 0.5 (same size: nearest is the identity)', () => {
    const mask = loadMask();
    const golden = loadGolden();
    const got = preprocessMask(mask, AT_256, 'c_mask');
    expect([got.width, got.height]).toEqual([224, 224]);
    expect(Array.from(got.data)).toEqual(Array.from(golden.data as Float32Array, (v) => (v > 0.5 ? 1 : 0)));
    expect(got.data.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('the official setting gives a 256×256 0/1 map from the 392 crop', () => {
    const mask = loadMask();
    const got = preprocessMask(mask, OFFICIAL_PREPROCESS, 'c_mask');
    expect([got.width, got.height, got.data.length]).toEqual([256, 256, 65536]);
    expect(got.data.every((v) => v === 0 || v === 1)).toBe(true);
    // Nearest from 392 to 256: output pixel (x, y) is crop pixel (floor(1.53125x), floor(1.53125y)).
    const crop = maskTransform(mask, OFFICIAL_PREPROCESS, 'c_mask');
    for (const [x, y] of [[0, 0], [100, 200], [255, 255], [131, 77]]) {
      expect(got.data[y * 256 + x]).toBe(crop[Math.floor(1.53125 * y) * 392 + Math.floor(1.53125 * x)] > 0.5 ? 1 : 0);
    }
  });
});

describe('mask helpers', () => {
  it('nearestIndex follows torch 1.13 legacy nearest: float32 scale, floor, clamp, 1× and 2× shortcuts', () => {
    expect(Array.from({ length: 6 }, (_, d) => nearestIndex(d, 4, 6))).toEqual([0, 0, 1, 2, 2, 3]);
    expect(Array.from({ length: 4 }, (_, d) => nearestIndex(d, 8, 4))).toEqual([0, 2, 4, 6]);
    expect(nearestIndex(5, 3, 6)).toBe(2);
    expect(nearestIndex(7, 9, 9)).toBe(7);
    // float32(2/82)·41 rounds to just under 1: torch reads index 0 where exact arithmetic gives 1.
    expect(nearestIndex(41, 2, 82)).toBe(0);
  });

  it('annotate keeps the mask size and thresholds at 128', () => {
    const m = { width: 4, height: 1, data: Uint8Array.from([0, 127, 128, 255]) };
    expect(preprocessMask(m, { ...OFFICIAL_PREPROCESS, protocol: 'annotate' })).toEqual({ width: 4, height: 1, data: Uint8Array.from([0, 0, 1, 1]) });
  });

  it('refuses malformed masks, naming the file', () => {
    const bad = { width: 4, height: 4, data: new Uint8Array(5) };
    expect(() => preprocessMask(bad, OFFICIAL_PREPROCESS, 'gt/000.png')).toThrow(/^gt\/000\.png: mask is 4×4 with 5 values/);
    expect(() => preprocessMask(bad, { ...OFFICIAL_PREPROCESS, protocol: 'annotate' }, 'gt/000.png')).toThrow(/^gt\/000\.png: mask is 4×4/);
  });
});
