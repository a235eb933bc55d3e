import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { centerCrop } from '../../../src/image/crop.ts';
import { decodeImage, decodeMask } from '../../../src/image/decode.ts';
import { pilResize } from '../../../src/image/pil-resize.ts';
import { fixture, HAS_FIXTURES, skipReason } from '../../helpers/shared.ts';

const SKIP = HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`;
const read = (name: string) => new Uint8Array(readFileSync(fixture('preprocess', name)));
const SETTINGS = [[448, 392], [256, 224]] as const;

/** Number of differing bytes: 0 is the requirement. */
function diff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe.skipIf(!HAS_FIXTURES)(`Pillow BILINEAR resize + torchvision CenterCrop equal the goldens bit for bit${SKIP}`, () => {
  for (const name of ['a_300x200', 'b_97x131', 'c_613x517']) {
    for (const [size, crop] of SETTINGS) {
      it(`${name} at resize ${size} / crop ${crop}`, () => {
        const img = decodeImage(read(`${name}.png`), name);
        const got = centerCrop(pilResize({ ...img, channels: 3 }, size, size), crop, crop);
        const want = decodeImage(read(`${name}_r${size}c${crop}_u8.png`), 'golden');
        expect([got.width, got.height]).toEqual([crop, crop]);
        expect(diff(got.data, want.data)).toBe(0);
      });
    }
  }
  for (const name of ['a_300x200_mask', 'c_613x517_mask']) {
    for (const [size, crop] of SETTINGS) {
      it(`${name} at resize ${size} / crop ${crop}`, () => {
        const m = decodeMask(read(`${name}.png`), name);
        const got = centerCrop(pilResize({ ...m, channels: 1 }, size, size), crop, crop);
        expect(diff(got.data, decodeMask(read(`${name}_r${size}c${crop}_u8.png`), 'golden').data)).toBe(0);
      });
    }
  }
});

describe('pilResize edge cases against Pillow 9.4', () => {
  // Input pixel (x, y, c) = (37x + 101y + 53c + 19·((x·y) mod 7)) mod 256; expected = Image.resize(size, BILINEAR).
  const pattern = (w: number, h: number, ch: number) => {
    const d = new Uint8Array(w * h * ch);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < ch; c++) {
      d[(y * w + x) * ch + c] = (x * 37 + y * 101 + c * 53 + ((x * y) % 7) * 19) % 256;
    }
    return d;
  };
  const cases: [number, number, number, number, number, string][] = [
    [13, 7, 5, 3, 3, '627d7270909a858b6c6a72797aa87f7d8395918e798284728d7a8388927c8b6ea3786f9ca871787c729f3d6e93'],
    [13, 7, 1, 1, 3, '808183'],
    [13, 7, 13, 2, 3, '64998d548970a04c816ea36c5c91c6b3be6a818157675b7e578c73a34f8471a66f5f9493b6c16d9b82a57372a7925b906fa49e775f94c07e60987f739e73677675aa955e9372a7a12d6297768163'],
    [2, 2, 1, 3, 3, '13487d4a7f7481b66b'],
    [1000, 37, 3, 99, 1, '7f7f7f7f7f7f827e81857d83857d83827f807f827d7c827c7b837c79837c7c827d7f817e7e817e7a827d76837c77827e7980817b7e837d7e827f7f81817e81837d84857b86857b86867c85867c84817f7f7d827b7c837a80807f857d84847d82827f7f7f817b7588746b8e6c698f6b7389747d827d7e817f7c827d7a837c7d817f807e82827d84847d83857d83847e82827e82807f81807e827f7e827f7e82807f7e82817981827a80817c7f807f7d817c7b837a79847879847a79837b7c817f817e83877a87827d837e817e7b827c7f807f827e83887a8890758f976f9590748e877a86807f80827e81837d82837e8080817d7d837a7c837b7b827c7a827d7c827d7d817d7d817d7b827c78837b7b80807f7c8682798a817c86807e81817e81847c84877a87877a87'],
    [40, 30, 7, 45, 1, '616d727a7b7b706c76797f7f7f7d777d7f818182887873797a7e817e86818273767d82908e8b73747e8086868b88898d649f907664646a55a8905e3e3c40495f625751463837606c6c6d665d5d717c7e7f7f80836a6a6a6d6d75786f747578777d7f7d87898b8b8b879b969b9ba096868887888a8d888271777679797b807a848b8d8f8c898886888a909197928582838b8b9c948b898a8c7180867d817f83747f7b737a77777a82898989896d727d83878b8d7c7e827a7f86898b8c89817c7c7f868a8f626366696f6f6f525c646668656099a0a6a8aaaba7949194969a9ea27f7873747c808a8d967d7e8483888788797b816e77797272747a5c6967707072746d75717a7f7f80777881848b8a8b7f7d878381838589917b7b7c7f8085896e757b7e7f807c6d787d8485867c7882858b8b8b89838b8c8f8e8f96'],
  ];
  for (const [w, h, ow, oh, ch, hex] of cases) {
    it(`${w}×${h} → ${ow}×${oh}, ${ch} channel(s)`, () => {
      const r = pilResize({ width: w, height: h, channels: ch, data: pattern(w, h, ch) }, ow, oh);
      expect([r.width, r.height, r.channels]).toEqual([ow, oh, ch]);
      expect(Buffer.from(r.data).toString('hex')).toBe(hex);
    });
  }

  it('same size is an unchanged copy; bad sizes are refused', () => {
    const img = { width: 3, height: 2, channels: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    const same = pilResize(img, 3, 2);
    expect(same.data).toEqual(img.data);
    expect(same.data).not.toBe(img.data);
    expect(() => pilResize(img, 0, 2)).toThrow(RangeError);
    expect(() => pilResize(img, 2.5, 2)).toThrow(RangeError);
    expect(() => pilResize({ ...img, channels: 3 }, 2, 2)).toThrow(/expected 3×2×3/);
  });
});
