import { describe, expect, it } from 'vitest';
import { centerCrop, centerCropOffset, roundHalfEven } from '../../../src/image/crop.ts';

describe('torchvision CenterCrop', () => {
  it('rounds halves to even like Python round()', () => {
    expect([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 4, -0, -2, -2, 2, 3]);
  });

  it('offset is int(round((in − out) / 2))', () => {
    expect(centerCropOffset(448, 392)).toBe(28);
    expect(centerCropOffset(256, 224)).toBe(16);
    expect(centerCropOffset(5, 2)).toBe(2); // round(1.5) = 2
    expect(centerCropOffset(7, 2)).toBe(2); // round(2.5) = 2, not 3
    expect(centerCropOffset(9, 2)).toBe(4); // round(3.5) = 4
    expect(centerCropOffset(4, 4)).toBe(0);
  });

  it('crops rows and columns at that offset, for any channel count', () => {
    // 7×5 image, 2 channels, value = 10y + x in channel 0 and 100 + 10y + x in channel 1.
    const w = 7;
    const h = 5;
    const data = new Uint8Array(w * h * 2);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { data[(y * w + x) * 2] = 10 * y + x; data[(y * w + x) * 2 + 1] = 100 + 10 * y + x; }
    const r = centerCrop({ width: w, height: h, channels: 2, data }, 2, 2);
    // left = round(2.5) = 2, top = round(1.5) = 2
    expect([r.width, r.height, r.channels, ...r.data]).toEqual([2, 2, 2, 22, 122, 23, 123, 32, 132, 33, 133]);
  });

  it('refuses a crop larger than the image (torchvision would pad; callers validate instead)', () => {
    const img = { width: 4, height: 4, channels: 1, data: new Uint8Array(16) };
    expect(() => centerCrop(img, 5, 4)).toThrow(RangeError);
    expect(() => centerCrop(img, 0, 4)).toThrow(RangeError);
  });
});
