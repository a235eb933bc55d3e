import { readFileSync } from 'node:fs';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeMask } from '../../../src/image/decode.ts';
import { centerCrop, pilResize } from '../../../src/image/pil-resize.ts';
import { decodeNpy, encodeNpy } from '../../../src/io/npy.ts';
import { preprocessMask } from '../../../src/preprocess/mask.ts';
import { normalizeLut, OFFICIAL_PREPROCESS, preprocess } from '../../../src/preprocess/preprocess.ts';
import { fixture, HAS_FIXTURES, loadFixtureTensors, skipReason } from '../../helpers/shared.ts';

const SKIP = HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`;
const read = (...p: string[]) => new Uint8Array(readFileSync(fixture(...p)));

describe.skipIf(!HAS_FIXTURES)(`official preprocessing matches Pillow/torchvision bit for bit${SKIP}`, () => {
  for (const name of ['a_300x200', 'b_97x131', 'c_613x517']) {
    for (const [size, crop] of [[448, 392], [256, 224]]) {
      it(`${name} at resize ${size} / crop ${crop}`, () => {
        const img = decodeImage(read('preprocess', `${name}.png`), name);
        const got = centerCrop(pilResize({ ...img, channels: 3 }, size, size), crop, crop);
        const want = decodeImage(read('preprocess', `${name}_r${size}c${crop}_u8.png`), 'golden');
        expect(got.width).toBe(crop);
        expect(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data))).toBe(0);
      });
    }
  }
  for (const name of ['a_300x200_mask', 'c_613x517_mask']) {
    for (const [size, crop] of [[448, 392], [256, 224]]) {
      it(`${name} at resize ${size} / crop ${crop}`, () => {
        const m = decodeMask(read('preprocess', `${name}.png`), name);
        const got = centerCrop(pilResize({ ...m, channels: 1 }, size, size), crop, crop);
        const want = decodeMask(read('preprocess', `${name}_r${size}c${crop}_u8.png`), 'golden');
        expect(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data))).toBe(0);
      });
    }
  }
  it('normalisation LUT and full float32 outputs are bit-identical to torch', () => {
    const lut = loadFixtureTensors('preprocess', 'normalize_lut.safetensors').get('lut')!.data as Float32Array;
    expect(Buffer.compare(Buffer.from(normalizeLut(OFFICIAL_PREPROCESS.mean, OFFICIAL_PREPROCESS.std).buffer), Buffer.from(lut.buffer, lut.byteOffset, lut.byteLength))).toBe(0);
    const img = decodeImage(read('preprocess', 'c_613x517.png'), 'c');
    const g392 = loadFixtureTensors('preprocess', 'golden_r448c392.safetensors').get('c_613x517')!.data as Float32Array;
    expect(preprocess(img, OFFICIAL_PREPROCESS, 14, 'c').data).toEqual(g392);
    const g224 = loadFixtureTensors('resnet18', 'input_and_features.safetensors').get('input')!.data as Float32Array;
    expect(preprocess(img, { ...OFFICIAL_PREPROCESS, resize: 256, crop: 224 }, 14, 'c').data).toEqual(g224);
  });
  it('mask transform then nearest resize and > 0.5, as the official evaluation', () => {
    const m = decodeMask(read('preprocess', 'c_613x517_mask.png'), 'm');
    const g = loadFixtureTensors('preprocess', 'golden_r256c224.safetensors').get('c_613x517_mask')!.data as Float32Array;
    const got = preprocessMask(m, { ...OFFICIAL_PREPROCESS, resize: 256, crop: 224, mapSize: 224 }, m, 'm');
    expect(Array.from(got.data)).toEqual(Array.from(g, (v) => (v > 0.5 ? 1 : 0)));
  });
});

describe('image decoding', () => {
  const rgb = (w: number, h: number) => Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);

  it('reads 16-bit RGB (high byte) and 16-bit gray (clipped, as Pillow convert("RGB"))', () => {
    const d16 = Uint16Array.from([0x1234, 0xabcd, 0xff00, 0x0001, 0x8000, 0x00ff]);
    const img = decodeImage(encodePng({ width: 2, height: 1, data: d16, depth: 16, channels: 3 }), 'rgb16.png');
    expect(Array.from(img.data)).toEqual([0x12, 0xab, 0xff, 0x00, 0x80, 0x00]);
    const g16 = decodeImage(encodePng({ width: 3, height: 1, data: Uint16Array.from([7, 255, 4000]), depth: 16, channels: 1 }), 'g16.png');
    expect(Array.from(g16.data)).toEqual([7, 7, 7, 255, 255, 255, 255, 255, 255]);
  });

  it('drops alpha from RGBA and gray+alpha', () => {
    const rgba = decodeImage(encodePng({ width: 1, height: 1, data: Uint8Array.from([10, 20, 30, 0]), depth: 8, channels: 4 }), 'a.png');
    expect(Array.from(rgba.data)).toEqual([10, 20, 30]);
    const la = decodeImage(encodePng({ width: 1, height: 1, data: Uint8Array.from([99, 5]), depth: 8, channels: 2 }), 'la.png');
    expect(Array.from(la.data)).toEqual([99, 99, 99]);
  });

  it('expands palette PNGs', () => {
    const png = encodePng({ width: 2, height: 1, data: Uint8Array.from([1, 0]), depth: 8, channels: 1, palette: [[255, 0, 0], [0, 0, 255]] } as any);
    expect(Array.from(decodeImage(png, 'p.png').data)).toEqual([0, 0, 255, 255, 0, 0]);
  });

  it('decodes JPEG and applies EXIF orientation', () => {
    const w = 16; const h = 8;
    const data = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) { const x = i % w; data[i * 4] = x < 8 ? 250 : 5; data[i * 4 + 1] = 128; data[i * 4 + 2] = 5; data[i * 4 + 3] = 255; }
    const jpg = jpeg.encode({ width: w, height: h, data }, 95).data;
    const plain = decodeImage(jpg, 'x.jpg');
    expect([plain.width, plain.height]).toEqual([16, 8]);
    // APP1 Exif with orientation 6 (rotate 90° clockwise to display), big-endian TIFF.
    const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
    const app1 = [0xff, 0xe1, 0, 2 + 6 + tiff.length, 0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
    const rotated = decodeImage(Uint8Array.from([0xff, 0xd8, ...app1, ...jpg.subarray(2)]), 'r.jpg');
    expect([rotated.width, rotated.height]).toEqual([8, 16]);
    // The left (red) half of the original is now the top half.
    expect(rotated.data[0]).toBeGreaterThan(200);
    expect(rotated.data[(15 * 8) * 3]).toBeLessThan(50);
  });

  it('rejects empty, truncated and unsupported files naming the file', () => {
    expect(() => decodeImage(new Uint8Array(0), 'empty.png')).toThrow(/empty\.png: file is empty/);
    const png = encodePng({ width: 4, height: 4, data: rgb(4, 4), depth: 8, channels: 3 });
    expect(() => decodeImage(png.subarray(0, 40), 'cut.png')).toThrow(/cut\.png: cannot decode PNG/);
    expect(() => decodeImage(new TextEncoder().encode('GIF89a......'), 'x.gif')).toThrow(/x\.gif: a GIF image; supported/);
    expect(() => decodeImage(new TextEncoder().encode('BM......'), 'x.bmp')).toThrow(/BMP/);
    expect(() => decodeImage(Uint8Array.from([1, 2, 3, 4, 5]), 'r.bin')).toThrow(/not a recognised image/);
  });

  it('rejects images smaller than one patch', () => {
    expect(() => preprocess({ width: 10, height: 10, data: new Uint8Array(300) }, OFFICIAL_PREPROCESS, 14, 'tiny.png'))
      .toThrow(/tiny\.png: image is 10×10, smaller than one 14-pixel patch/);
  });

  it('writes and reads .npy float32 maps', () => {
    const a = Float32Array.from({ length: 12 }, (_, i) => i / 7);
    const bytes = encodeNpy(a, [3, 4]);
    expect(String.fromCharCode(...bytes.subarray(1, 6))).toBe('NUMPY');
    const header = new TextDecoder().decode(bytes.subarray(10, 128));
    expect(header).toContain("'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)");
    expect((bytes.length - a.byteLength) % 64).toBe(0);
    const back = decodeNpy(bytes);
    expect(back.shape).toEqual([3, 4]);
    expect(back.data).toEqual(a);
  });
});
