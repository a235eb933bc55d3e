import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.ts';
import { decodeImage } from '../../../src/image/decode.ts';
import {
  inputSize, normalizeLut, OFFICIAL_PREPROCESS, preprocess, stackBatch, validatePreprocess,
} from '../../../src/preprocess/preprocess.ts';
import type { PreprocessConfig, RgbImage } from '../../../src/types.ts';
import { fixture, HAS_FIXTURES, loadFixtureTensors, skipReason } from '../../helpers/shared.ts';

const SKIP = HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`;
const read = (name: string) => new Uint8Array(readFileSync(fixture('preprocess', name)));
const bytes = (f: Float32Array) => Buffer.from(f.buffer, f.byteOffset, f.byteLength);
/** Bit-for-bit equality of float32 arrays (distinguishes −0 and compares NaN payloads). */
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.compare(bytes(a), bytes(b)) === 0;
const at = (resize: number, crop: number): PreprocessConfig => ({ ...OFFICIAL_PREPROCESS, resize, crop });

describe.skipIf(!HAS_FIXTURES)(`official preprocessing is bit-identical to torchvision${SKIP}`, () => {
  const lut = normalizeLut(OFFICIAL_PREPROCESS.mean, OFFICIAL_PREPROCESS.std);

  it('normalisation LUT equals normalize_lut.safetensors', () => {
    const want = loadFixtureTensors('preprocess', 'normalize_lut.safetensors').get('lut')!;
    expect(want.shape).toEqual([3, 256]);
    expect(sameBits(lut, want.data as Float32Array)).toBe(true);
  });

  it('c_613x517 at (448, 392) equals golden_r448c392.safetensors', () => {
    const got = preprocess(decodeImage(read('c_613x517.png'), 'c'), OFFICIAL_PREPROCESS, 14, 'c');
    const want = loadFixtureTensors('preprocess', 'golden_r448c392.safetensors').get('c_613x517')!;
    expect(want.shape).toEqual([1, 3, 392, 392]);
    expect(got.size).toBe(392);
    expect(sameBits(got.data, want.data as Float32Array)).toBe(true);
  });

  it('c_613x517 at (256, 224) equals the ResNet fixture input', () => {
    const got = preprocess(decodeImage(read('c_613x517.png'), 'c'), at(256, 224), 14, 'c');
    const want = loadFixtureTensors('resnet18', 'input_and_features.safetensors').get('input')!;
    expect(want.shape).toEqual([1, 3, 224, 224]);
    expect(sameBits(got.data, want.data as Float32Array)).toBe(true);
  });

  // The README's exactness property: official output == lut[c][u8 golden], for every image and setting.
  for (const name of ['a_300x200', 'b_97x131', 'c_613x517']) {
    for (const [resize, crop] of [[448, 392], [256, 224]]) {
      it(`${name} at (${resize}, ${crop}) is the LUT of its u8 golden`, () => {
        const got = preprocess(decodeImage(read(`${name}.png`), name), at(resize, crop), 14, name);
        const u8 = decodeImage(read(`${name}_r${resize}c${crop}_u8.png`), 'golden').data;
        const plane = crop * crop;
        const want = new Float32Array(3 * plane);
        for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) want[c * plane + i] = lut[c * 256 + u8[i * 3 + c]];
        expect(sameBits(got.data, want)).toBe(true);
      });
    }
  }
});

describe('preprocess', () => {
  const lut = normalizeLut(OFFICIAL_PREPROCESS.mean, OFFICIAL_PREPROCESS.std);
  /** Left half (10, 20, 30), right half (200, 100, 0). */
  const halves = (w: number, h: number): RgbImage => {
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) data.set((i % w) < w / 2 ? [10, 20, 30] : [200, 100, 0], i * 3);
    return { width: w, height: h, data };
  };

  it('LUT entries are ((v/255) − mean)/std rounded to float32 at every step', () => {
    const f = Math.fround;
    expect(lut[0]).toBe(f(f(-f(0.485)) / f(0.229)));
    expect(lut[256 + 255]).toBe(f(f(1 - f(0.456)) / f(0.224)));
    expect(lut[512 + 128]).toBe(f(f(f(128 / 255) - f(0.406)) / f(0.225)));
  });

  it('annotate squashes the whole image to resize×resize (no crop), NCHW, and records the source size', () => {
    const cfg: PreprocessConfig = { ...OFFICIAL_PREPROCESS, protocol: 'annotate', resize: 28 };
    expect(inputSize(cfg)).toBe(28);
    const p = preprocess(halves(60, 30), cfg, 14, 'h.png');
    expect([p.size, p.data.length, p.source.width, p.source.height]).toEqual([28, 3 * 28 * 28, 60, 30]);
    const plane = 28 * 28;
    // Column 0 comes from the left half, column 27 from the right half; each channel has its own plane.
    expect([p.data[0], p.data[plane], p.data[2 * plane]]).toEqual([lut[10], lut[256 + 20], lut[512 + 30]]);
    expect([p.data[27], p.data[plane + 27], p.data[2 * plane + 27]]).toEqual([lut[200], lut[256 + 100], lut[512]]);
  });

  it('official crops the centre of the resized image', () => {
    const p = preprocess(halves(40, 40), { ...OFFICIAL_PREPROCESS, resize: 32, crop: 28 }, 14, 'h.png');
    expect(p.size).toBe(28);
    expect(p.data[0]).toBe(lut[10]);
    expect(p.data[27]).toBe(lut[200]);
  });

  it('refuses images smaller than one patch, naming the file', () => {
    const tiny = { width: 10, height: 10, data: new Uint8Array(300) };
    expect(() => preprocess(tiny, OFFICIAL_PREPROCESS, 14, 'tiny.png')).toThrow(/^tiny\.png: image is 10×10, smaller than one 14-pixel patch$/);
    expect(() => preprocess({ width: 100, height: 13, data: new Uint8Array(3900) }, OFFICIAL_PREPROCESS, 14, 'thin.png')).toThrow(/thin\.png: image is 100×13/);
    // Without a patch size there is nothing to compare against.
    expect(preprocess(tiny, OFFICIAL_PREPROCESS).size).toBe(392);
  });

  it('refuses pixel data that does not match the size', () => {
    expect(() => preprocess({ width: 20, height: 20, data: new Uint8Array(10) }, OFFICIAL_PREPROCESS, 14, 'x.png')).toThrow(/^x\.png: pixel data has 10 bytes, expected 20×20×3$/);
  });

  it('validates the config, naming the field', () => {
    const bad: [Partial<PreprocessConfig>, RegExp][] = [
      [{ resize: 0 }, /^resize: must be a positive integer, got 0$/],
      [{ crop: 391.5 }, /^crop: must be a positive integer/],
      [{ mapSize: -1 }, /^map-size: must be a positive integer/],
      [{ crop: 500 }, /^crop: 500 is larger than resize 448$/],
      [{ crop: 390 }, /^crop: 390 is not a multiple of the model's 14-pixel patch$/],
      [{ protocol: 'annotate', resize: 450 }, /^resize: 450 is not a multiple/],
      [{ protocol: 'squash' as never }, /^protocol: must be "official" or "annotate"/],
      [{ std: [0.229, 0, 0.225] }, /^std: must be 3 finite numbers, none zero/],
      [{ mean: [0.5, 0.5] as never }, /^mean: must be 3 finite numbers/],
    ];
    for (const [patch, msg] of bad) {
      const f = () => validatePreprocess({ ...OFFICIAL_PREPROCESS, ...patch }, 14);
      expect(f).toThrow(InputError);
      expect(f).toThrow(msg);
    }
    // annotate ignores the crop; without a patch size any positive size goes.
    expect(() => validatePreprocess({ ...OFFICIAL_PREPROCESS, protocol: 'annotate', resize: 224, crop: 392 }, 14)).not.toThrow();
    expect(() => validatePreprocess({ ...OFFICIAL_PREPROCESS, crop: 390 })).not.toThrow();
  });

  it('stackBatch makes N×3×S×S in order and refuses mixed sizes', () => {
    const cfg: PreprocessConfig = { ...OFFICIAL_PREPROCESS, protocol: 'annotate', resize: 14 };
    const a = preprocess(halves(20, 20), cfg);
    const b = preprocess({ width: 20, height: 20, data: new Uint8Array(1200).fill(255) }, cfg);
    const batch = stackBatch([a, b]);
    expect(batch.shape).toEqual([2, 3, 14, 14]);
    expect(sameBits(batch.data.subarray(0, a.data.length), a.data)).toBe(true);
    expect(sameBits(batch.data.subarray(a.data.length), b.data)).toBe(true);
    const c = preprocess(halves(20, 20), { ...cfg, resize: 28 });
    expect(() => stackBatch([a, c])).toThrow(/image 1 is 28×28, the first is 14×14/);
    expect(() => stackBatch([])).toThrow(RangeError);
  });
});
