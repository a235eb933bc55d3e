import { describe, expect, it } from 'vitest';
import { decodeCvatMask, encodeCvatMask } from '../../../src/export/cvat-rle.ts';
import { decodeLabelStudioRle, encodeLabelStudioRle } from '../../../src/export/labelstudio-rle.ts';
import { tightBox, type BinaryMask } from '../../../src/image/mask.ts';
import { expectSameMask, maskFrom, propertyMasks } from './masks.ts';

/**
 * label-studio-sdk converter/brush.py mask2rle(mask·255), transcribed as bit strings: every pixel value 4×, runs as
 * 1-value literals or repeat chunks; runs > 65,536 as 65,536-value chunks plus the remainder, always with a 16-bit
 * count; then 8 − (bits mod 8) zero bits.
 */
function sdkMask2rle(m: BinaryMask): { bytes: number[]; shortRemainder: boolean } {
  const bin = (v: number, n: number) => v.toString(2).padStart(n, '0');
  let s = bin(m.data.length * 4, 32) + bin(7, 5) + [3, 4, 8, 16].map((b) => bin(b - 1, 4)).join('');
  let shortRemainder = false;
  for (let i = 0; i < m.data.length;) {
    let j = i;
    while (j < m.data.length && m.data[j] === m.data[i]) j++;
    const value = bin(m.data[i] * 255, 8);
    const length = 4 * (j - i);
    if (length <= 8) s += '100' + bin(length - 1, 3) + value;
    else if (length <= 16) s += '101' + bin(length - 1, 4) + value;
    else if (length <= 256) s += '110' + bin(length - 1, 8) + value;
    else {
      let rest = length;
      for (; rest > 65536; rest -= 65536) s += '111' + bin(65535, 16) + value;
      if (length > 65536 && rest <= 256) shortRemainder = true;
      s += '111' + bin(rest - 1, 16) + value;
    }
    i = j;
  }
  s += '0'.repeat(8 - (s.length % 8));
  const bytes: number[] = [];
  for (let k = 0; k < s.length; k += 8) bytes.push(parseInt(s.slice(k, k + 8), 2));
  return { bytes, shortRemainder };
}

describe('Label Studio brush RLE round trips (property tests)', () => {
  for (const { name, mask } of propertyMasks(4242)) {
    it(name, () => {
      const rle = encodeLabelStudioRle(mask);
      expect(rle.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)).toBe(true);
      expectSameMask(decodeLabelStudioRle(rle, mask.width, mask.height), mask);
      const sdk = sdkMask2rle(mask);
      // Same bytes as the SDK, except where it writes a remainder ≤ 256 with a 16-bit count (see labelstudio-rle.ts).
      if (sdk.shortRemainder) expectSameMask(decodeLabelStudioRle(sdk.bytes, mask.width, mask.height), mask);
      else expect(rle).toEqual(sdk.bytes);
    });
  }

  it('reads alpha > 0 as on, as the Label Studio editor paints it (anti-aliased brush edges)', () => {
    // 1×2 RGBA: pixel 0 has alpha 1, pixel 1 alpha 0; one literal chunk of 8 words after the 53-bit header.
    const bits = [(8).toString(2).padStart(32, '0'), '00111', '0010001101111111', '0', '00', '111',
      ...[0, 0, 0, 1, 0, 0, 0, 0].map((v) => v.toString(2).padStart(8, '0'))].join('');
    const padded = bits + '0'.repeat((8 - (bits.length % 8)) % 8);
    const bytes = Array.from({ length: padded.length / 8 }, (_, k) => parseInt(padded.slice(8 * k, 8 * k + 8), 2));
    expect(Array.from(decodeLabelStudioRle(bytes, 2, 1).data)).toEqual([1, 0]);
  });
});

describe('CVAT mask points round trips (property tests)', () => {
  for (const { name, mask } of propertyMasks(99)) {
    it(name, () => {
      const points = encodeCvatMask(mask);
      const box = tightBox(mask);
      if (!box) {
        expect(points).toBeNull();
        return;
      }
      expect(points!.slice(-4)).toEqual(box);
      const runs = points!.slice(0, -4);
      expect(runs.reduce((a, c) => a + c, 0)).toBe((box[2] - box[0] + 1) * (box[3] - box[1] + 1));
      expect(runs.slice(1).every((c) => c > 0)).toBe(true);
      expect(runs[0] === 0).toBe(mask.data[box[1] * mask.width + box[0]] === 1);
      expectSameMask(decodeCvatMask(points!, mask.width, mask.height), mask);
    });
  }

  it('decodes a box that is not tight (encode_mask with a caller-chosen box)', () => {
    // 3×2 crop at left 1, top 1 of a 5×4 image: rows 011 / 110.
    const m = decodeCvatMask([1, 4, 1, 1, 1, 3, 2], 5, 4);
    expectSameMask(m, maskFrom(5, 4, (x, y) => (y === 1 && (x === 2 || x === 3)) || (y === 2 && (x === 1 || x === 2))));
  });
});
