import { describe, expect, it } from 'vitest';
import { applyOrientation, jpegOrientation, orientationFromTiff, pngOrientation } from '../../../src/image/exif.ts';
import { concat, exifTiff, pngChunk, PNG_SIGNATURE, withJpegExif } from './bytes.ts';

describe('EXIF orientation', () => {
  it('reads tag 0x0112 in both byte orders, as SHORT or LONG, with or without the Exif header', () => {
    for (let o = 1; o <= 8; o++) {
      expect(orientationFromTiff(exifTiff(o, 'II'))).toBe(o);
      expect(orientationFromTiff(exifTiff(o, 'MM'))).toBe(o);
    }
    expect(orientationFromTiff(exifTiff(6, 'MM', 4))).toBe(6);
    expect(orientationFromTiff(concat([0x45, 0x78, 0x69, 0x66, 0, 0], exifTiff(8, 'II')))).toBe(8);
  });

  it('anything unreadable means 1', () => {
    expect(orientationFromTiff(exifTiff(9, 'II'))).toBe(1);
    expect(orientationFromTiff(exifTiff(0, 'MM'))).toBe(1);
    expect(orientationFromTiff(exifTiff(6, 'II').subarray(0, 20))).toBe(1); // entry cut off
    expect(orientationFromTiff(Uint8Array.from([0x49, 0x49, 42, 0, 0xff, 0xff, 0, 0]))).toBe(1); // IFD past the end
    expect(orientationFromTiff(new Uint8Array(0))).toBe(1);
    expect(orientationFromTiff(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]))).toBe(1);
  });

  it('finds the first APP1 Exif segment in a JPEG, skipping other segments and fill bytes', () => {
    const soi = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xda, 0, 2]); // SOI, APP0, SOS
    expect(jpegOrientation(soi)).toBe(1);
    const once = withJpegExif(soi, exifTiff(6, 'MM'));
    expect(jpegOrientation(once)).toBe(6);
    expect(jpegOrientation(withJpegExif(once, exifTiff(3, 'II')))).toBe(3); // the new first segment wins
    const filled = concat([0xff, 0xd8, 0xff, 0xff], once.subarray(2));
    expect(jpegOrientation(filled)).toBe(6);
    // After SOS there is only scan data.
    expect(jpegOrientation(concat(soi, withJpegExif(soi, exifTiff(6, 'MM')).subarray(2)))).toBe(1);
  });

  it('finds a PNG eXIf chunk anywhere before IEND', () => {
    const ihdr = pngChunk('IHDR', new Uint8Array(13));
    const idat = pngChunk('IDAT', [1, 2, 3]);
    const exif = pngChunk('eXIf', exifTiff(5, 'II'));
    const iend = pngChunk('IEND', []);
    expect(pngOrientation(concat(PNG_SIGNATURE, ihdr, exif, idat, iend))).toBe(5);
    expect(pngOrientation(concat(PNG_SIGNATURE, ihdr, idat, exif, iend))).toBe(5);
    expect(pngOrientation(concat(PNG_SIGNATURE, ihdr, idat, iend, exif))).toBe(1);
  });

  it('transposes like Pillow exif_transpose for every orientation', () => {
    // A 3×2 RGB image whose bytes are 0..17; results from Pillow 9.4 ImageOps.exif_transpose.
    const img = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i) };
    const pillow: Record<number, [number, number, number[]]> = {
      2: [3, 2, [6, 7, 8, 3, 4, 5, 0, 1, 2, 15, 16, 17, 12, 13, 14, 9, 10, 11]],
      3: [3, 2, [15, 16, 17, 12, 13, 14, 9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2]],
      4: [3, 2, [9, 10, 11, 12, 13, 14, 15, 16, 17, 0, 1, 2, 3, 4, 5, 6, 7, 8]],
      5: [2, 3, [0, 1, 2, 9, 10, 11, 3, 4, 5, 12, 13, 14, 6, 7, 8, 15, 16, 17]],
      6: [2, 3, [9, 10, 11, 0, 1, 2, 12, 13, 14, 3, 4, 5, 15, 16, 17, 6, 7, 8]],
      7: [2, 3, [15, 16, 17, 6, 7, 8, 12, 13, 14, 3, 4, 5, 9, 10, 11, 0, 1, 2]],
      8: [2, 3, [6, 7, 8, 15, 16, 17, 3, 4, 5, 12, 13, 14, 0, 1, 2, 9, 10, 11]],
    };
    expect(applyOrientation(img, 1)).toBe(img);
    for (const [o, [w, h, data]] of Object.entries(pillow)) {
      const r = applyOrientation(img, Number(o));
      expect([r.width, r.height, ...r.data], `orientation ${o}`).toEqual([w, h, ...data]);
    }
  });
});
