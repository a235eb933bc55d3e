import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeMask } from '../../../src/image/decode.ts';
import { encodePng } from '../../../src/image/encode-png.ts';

describe('encodePng', () => {
  it('writes 8-bit gray and RGB PNGs that decode to the same pixels', () => {
    const gray = Uint8Array.from({ length: 5 * 3 }, (_, i) => i * 17);
    const g = encodePng({ width: 5, height: 3, channels: 1, data: gray });
    expect(decode(g)).toMatchObject({ width: 5, height: 3, depth: 8, channels: 1 });
    expect(decodeMask(g, 'g.png')).toEqual({ width: 5, height: 3, data: gray });

    const rgb = Uint8Array.from({ length: 4 * 2 * 3 }, (_, i) => (i * 53) % 256);
    const c = encodePng({ width: 4, height: 2, channels: 3, data: rgb });
    expect(decode(c)).toMatchObject({ depth: 8, channels: 3 });
    expect(decodeImage(c, 'c.png')).toEqual({ width: 4, height: 2, data: rgb });
  });

  it('refuses data that does not match the size', () => {
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(4) })).toThrow(/expected 2×2×3/);
    expect(() => encodePng({ width: 0, height: 2, channels: 1, data: new Uint8Array(0) })).toThrow(RangeError);
  });
});
