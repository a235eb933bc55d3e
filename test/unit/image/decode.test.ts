import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.ts';
import { decodeImage, decodeMask, MAX_PIXELS, sniffFormat } from '../../../src/image/decode.ts';
import { applyOrientation } from '../../../src/image/exif.ts';
import type { RgbImage } from '../../../src/types.ts';
import { be16, concat, exifTiff, pngChunk, PNG_SIGNATURE, rawPng, withJpegExif } from './bytes.ts';

// Expected values were produced with Pillow 9.4.0: ImageOps.exif_transpose(Image.open(f)).convert('RGB') / convert('L').

const rgb = (img: RgbImage) => Array.from(img.data);
const png1row = (depth: number, colorType: number, width: number, row: number[], extra: Partial<Parameters<typeof rawPng>[0]> = {}) =>
  rawPng({ width, height: 1, depth, colorType, rows: [row], ...extra });

/** Decoding must fail with an InputError whose message starts with the file name. */
function expectInputError(f: () => unknown, where: string, message: RegExp): void {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(InputError);
  expect((err as InputError).where).toBe(where);
  expect((err as InputError).message.startsWith(`${where}: `)).toBe(true);
  expect((err as InputError).message).toMatch(message);
}

describe('PNG decoding matches Pillow convert("RGB")', () => {
  it('8-bit RGB, RGBA, gray and gray+alpha; alpha is dropped, not composited', () => {
    expect(rgb(decodeImage(png1row(8, 2, 3, [10, 200, 30, 255, 255, 255, 1, 2, 3]), 'rgb.png'))).toEqual([10, 200, 30, 255, 255, 255, 1, 2, 3]);
    expect(rgb(decodeImage(png1row(8, 6, 1, [10, 20, 30, 0]), 'rgba.png'))).toEqual([10, 20, 30]);
    expect(rgb(decodeImage(png1row(8, 0, 2, [5, 6]), 'gray.png'))).toEqual([5, 5, 5, 6, 6, 6]);
    expect(rgb(decodeImage(png1row(8, 4, 1, [99, 5]), 'la.png'))).toEqual([99, 99, 99]);
  });

  it('16-bit colour keeps the high byte; 16-bit gray is clipped at 255 (mode I → RGB), not scaled', () => {
    expect(rgb(decodeImage(png1row(16, 2, 2, be16(0x1234, 0xabcd, 0xff00, 0x0001, 0x8000, 0x00ff)), 'rgb16.png'))).toEqual([18, 171, 255, 0, 128, 0]);
    expect(rgb(decodeImage(png1row(16, 6, 1, be16(0x1234, 0x5678, 0x9abc, 0)), 'rgba16.png'))).toEqual([18, 86, 154]);
    expect(rgb(decodeImage(png1row(16, 4, 2, be16(0x1234, 1, 0xff80, 0xffff)), 'la16.png'))).toEqual([18, 18, 18, 255, 255, 255]);
    expect(rgb(decodeImage(png1row(16, 0, 3, be16(7, 255, 4000)), 'g16.png'))).toEqual([7, 7, 7, 255, 255, 255, 255, 255, 255]);
  });

  it('1/2/4-bit gray scale to 0..255', () => {
    expect(rgb(decodeImage(png1row(1, 0, 8, [0b10110001]), 'g1.png')).filter((_, i) => i % 3 === 0)).toEqual([255, 0, 255, 255, 0, 0, 0, 255]);
    expect(rgb(decodeImage(png1row(2, 0, 4, [0b00011011]), 'g2.png')).filter((_, i) => i % 3 === 0)).toEqual([0, 85, 170, 255]);
    expect(rgb(decodeImage(png1row(4, 0, 2, [0x3c]), 'g4.png')).filter((_, i) => i % 3 === 0)).toEqual([51, 204]);
    // Rows are padded to whole bytes: the second row starts on a new byte.
    const two = rawPng({ width: 3, height: 2, depth: 1, colorType: 0, rows: [[0b10100000], [0b01000000]] });
    expect(rgb(decodeImage(two, 'g1x2.png')).filter((_, i) => i % 3 === 0)).toEqual([255, 0, 255, 0, 255, 0]);
  });

  it('palette with tRNS ignores alpha; indices past the palette read the grey ramp', () => {
    const plte = pngChunk('PLTE', [255, 0, 0, 0, 0, 255, 10, 20, 30]);
    const trns = pngChunk('tRNS', [0, 128]);
    const p8 = png1row(8, 3, 5, [0, 1, 2, 3, 200], { before: [plte, trns] });
    expect(rgb(decodeImage(p8, 'p8.png'))).toEqual([255, 0, 0, 0, 0, 255, 10, 20, 30, 3, 3, 3, 200, 200, 200]);
    const p2 = png1row(2, 3, 4, [0b00011011], { before: [plte] });
    expect(rgb(decodeImage(p2, 'p2.png'))).toEqual([255, 0, 0, 0, 0, 255, 10, 20, 30, 3, 3, 3]);
    expect(Array.from(decodeMask(p8, 'p8.png').data)).toEqual([76, 29, 18, 3, 200]);
  });

  it('gray with a tRNS colour key keeps its values', () => {
    expect(rgb(decodeImage(png1row(8, 0, 2, [5, 6], { before: [pngChunk('tRNS', be16(5))] }), 't.png'))).toEqual([5, 5, 5, 6, 6, 6]);
  });

  it('masks are Pillow convert("L"): fixed-point ITU-R 601-2 luma', () => {
    expect(Array.from(decodeMask(png1row(8, 2, 3, [10, 200, 30, 255, 255, 255, 1, 2, 3]), 'm.png').data)).toEqual([124, 255, 2]);
    expect(Array.from(decodeMask(png1row(16, 2, 2, be16(0x1234, 0xabcd, 0xff00, 0x0001, 0x8000, 0x00ff)), 'm16.png').data)).toEqual([135, 75]);
    expect(Array.from(decodeMask(png1row(16, 0, 3, be16(7, 255, 4000)), 'g16.png').data)).toEqual([7, 255, 255]);
    const gray = decodeMask(png1row(8, 0, 4, [0, 1, 128, 255]), 'g.png');
    expect([gray.width, gray.height, ...gray.data]).toEqual([4, 1, 0, 1, 128, 255]);
  });

  it('applies the eXIf orientation, before or after the image data', () => {
    const rows = [[0, 1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16, 17]];
    const want = [9, 10, 11, 0, 1, 2, 12, 13, 14, 3, 4, 5, 15, 16, 17, 6, 7, 8]; // orientation 6, from Pillow
    for (const where of ['before', 'after'] as const) {
      const img = decodeImage(rawPng({ width: 3, height: 2, depth: 8, colorType: 2, rows, [where]: [pngChunk('eXIf', exifTiff(6, 'II'))] }), `${where}.png`);
      expect([img.width, img.height]).toEqual([2, 3]);
      expect(rgb(img)).toEqual(want);
    }
  });
});

describe('JPEG decoding', () => {
  const W = 16;
  const H = 8;
  // Smooth content: JPEG is lossy, so compare with a tolerance.
  const rgba = new Uint8Array(W * H * 4).map((_, i) => (i % 4 === 3 ? 255 : 40 + ((i >> 2) % W) * 8 + (i % 4) * 30));
  const jpg = new Uint8Array(jpeg.encode({ width: W, height: H, data: rgba }, 95).data);
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

  it('baseline RGB (jpeg-js encoded)', () => {
    const img = decodeImage(jpg, 'x.jpg');
    expect([img.width, img.height, img.data.length]).toEqual([W, H, W * H * 3]);
    expect(maxDiff(img.data, rgba.filter((_, i) => i % 4 !== 3))).toBeLessThanOrEqual(6);
  });

  // Small files written by Pillow 9.4 and its decoded pixels. jpeg-js's IDCT differs from libjpeg's, so ±2 levels.
  const pillow = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
  it('grayscale (1 component) becomes R = G = B', () => {
    const img = decodeImage(pillow('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/wAALCAAIABABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/AHfDf4e/Avw14+8Sfsi2vj7TfBPizT/Br6Tr+hWPgjXrnRtVh1C/iv7K1TTdO03abGbQZ3hnF4w1NDqiwtcs9kJK5jwott8U/iH4l/YK+DHwt8TTa75GmaL4rS7060uvCp8T6TbX0N/p9ykdvHa2q/2rb6YbW9tdPa3EtnHc3ayRXF3GP//Z'), 'gray.jpg');
    const want = Buffer.from('00254d6e97b6df03274d7298bdde052c659cd60c4282b169a3da10487cbd6ca3cc155daf73b907cd1465ae73c307d1182e8eebbf21fd573592edc826fe5b36959207f5614dc2a89608f56453c2ad9d07fa7c797cfffefffe817d7f020100ff845ef5061a2a3b505ff90a1d2b425364f9c3e90c32587ca1c7ec10345c7ea4c9ef', 'hex');
    expect([img.width, img.height]).toEqual([16, 8]);
    for (let i = 0; i < want.length; i++) expect(img.data[i * 3]).toBe(img.data[i * 3 + 2]);
    expect(maxDiff(img.data.filter((_, i) => i % 3 === 0), want)).toBeLessThanOrEqual(1);
  });
  it('Adobe CMYK', () => {
    const img = decodeImage(pillow('/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwACAQEBAQECAQEBAgICAgIEAwICAgIFBAQDBAYFBgYGBQYGBgcJCAYHCQcGBggLCAkKCgoKCgYICwwLCgwJCgoK/8AAFAgACAAIBEMRAE0RAFkRAEsRAP/EAB8AAAEFAQEBAQEBAAAAAAAAAAABAgMEBQYHCAkKC//EALUQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAA4EQwBNAFkASwAAPwB3w3+HvwL8NePvEn7Itr4+03wT4s0/wa+k6/oVj4I1650bVYdQv4r+ytU03TtN2mxm0Gd4ZxeMNTQ6osLXLPZCSpvCetRfEOL4g/s5/DX4Sa8t14h17UdM1vwv4J8D/wBs/wBgfZP7OjtLB9I1i6g0myuba8tbwmSNNQxtQmWW5Uai9r4s6ZeR/BW+1T4K/FXTfHHgW28XabqrWninxNbWOn6FewG4RNQl1K/tp9Ms5bm/v4Yls9PhazW3tltI55IbmYXX7+V//9k='), 'cmyk.jpg');
    expect([img.width, img.height]).toEqual([8, 8]);
    expect(maxDiff(img.data, Buffer.from('003369255b904d7fb26ea4d797caffb6f222df124903386d659bce9cd308d60c420c40784278ab82ade8b1ed21699ccfccff3415477e5d94c8afe21873a9dab9f427073c70cd033a2e66978ec0faeb2154bffb2c21558dfd2e66578ec335669a92c9ff073a70f5255b6197cf4d83b7c2f728a8e11396cc05fa2d647cb6e479b0e77cb0e5ff356bfe336bff3164fe32635e95c7f526610640741a4d802a60953b70a75080b95f99cfc3f72de91e520c427632679c588dc27cb2e6a1d70bc7f92f', 'hex'))).toBeLessThanOrEqual(1);
  });
  it('progressive', () => {
    const img = decodeImage(pillow('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/2wBDAQICAgICAgUDAwUKBwYHCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgr/wgARCAAIABADAREAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAgT/xAAWAQEBAQAAAAAAAAAAAAAAAAACAAT/2gAMAwEAAhADEAAAAVGd5//EABcQAQEBAQAAAAAAAAAAAAAAAAQBAwX/2gAIAQEAAQUCNDb06MugL//EAB4RAAMAAgMAAwAAAAAAAAAAAAECAxESBAUTISIx/9oACAEDAQE/AY8Xg8TlLG1lnRJj99AtBRi3x4zNGm0GAb0KV++MgJqFiz9rTq5IRUhZFTgKaKurKRPCnNgnmxOuVDW22Yj/xAAfEQADAAICAgMAAAAAAAAAAAABAgMEEhETBSEiIzL/2gAIAQIBAT8B8kLzwJ507CsVZHBpRUAI35fu4b9u6gJMLPVdR9blGzsBMPJjm1opRjorNQzoEYKFVaatWrcdr6minZ/XyRGX/8QAIxAAAgECBQUBAAAAAAAAAAAAAgMBBBEAEiEiMQUGE0FSYf/aAAgBAQAGPwKs7doUkJmRA6nRSEwQ1HKPjLYPv6nXmZjNgumUNM1ilzDXtFMMSJhJ3i7I2Ra2oL/eLjj/xAAYEAEBAQEBAAAAAAAAAAAAAAABESEAMf/aAAgBAQABPyGIrDQrmsQuBBtU4JHQUjL3JRBXH//aAAwDAQACAAMAAAAQ5//EABcRAQEBAQAAAAAAAAAAAAAAAAERADH/2gAIAQMBAT8QPggoCDAhgM2A0lJ0YRHQtxZGb//EABYRAQEBAAAAAAAAAAAAAAAAAAEAEf/aAAgBAgEBPxAW3Dcg6MYUpuZVRj/kwQNUJa//xAAXEAEBAQEAAAAAAAAAAAAAAAABEQAh/9oACAEBAAE/ELg3bmUfOKIvBnrwspaJJGASH//Z'), 'prog.jpg');
    expect([img.width, img.height]).toEqual([16, 8]);
    expect(maxDiff(img.data, Buffer.from('003564265b914981b471a7d692c8f4b8eb22e0154d04356d245c8f5084c071a9da98c900c2f127da1b4706386d2a619a6b99d49bcf08cc0b440e427b497bb07ab6eab0eb17699ed09cd605d80e3e0f477a4b7dae81b4e9baee2969a4cca9d504cafe2d1a487c619bcdabde1571a5d5baf32c023c6cd0003c1850836c93ccb1e01470aad8baf9240b3b7dd2073c1851882966938ac6f8ee1a55d1f92726548fff2b665992bf36659991c3f8eb1f5ecafe2d1b5e92ff316b5990c634699f8fccfb8ecbfa033975ed275a619cd44d7dbdbef329a6e41795c900093e70f02f645f9bcf4d87adbefa28ade4159fc80a0e4272fe2d6e7bb3e27cb3da77b2defa3761ff3462fe356bff31647caee980b8e785afd903346f07366c023165ff366e83b7e65b8ec3fa2d65073c70144f7b2f6297416ea74785c06096c2f8355d093a741953812c6ba03f72a95486b75d9ec8fb2d6dc1fb2beb1c5409426f3564aa508fb880b1e9a1d507c7fd35e6205316457d2d699f5a8fc57fb2e9a8d808c5ff36ee2454', 'hex'))).toBeLessThanOrEqual(2);
  });

  it('applies EXIF orientation 6 (big-endian) and 3 (little-endian) from APP1', () => {
    const plain = decodeImage(jpg, 'x.jpg');
    const r6 = decodeImage(withJpegExif(jpg, exifTiff(6, 'MM')), 'r6.jpg');
    expect([r6.width, r6.height]).toEqual([H, W]);
    expect(r6).toEqual(applyOrientation(plain, 6));
    // Rotated 90° clockwise: the original bottom-left pixel is now top-left.
    expect(Array.from(r6.data.subarray(0, 3))).toEqual(Array.from(plain.data.subarray((H - 1) * W * 3, (H - 1) * W * 3 + 3)));
    const r3 = decodeImage(withJpegExif(jpg, exifTiff(3, 'II')), 'r3.jpg');
    expect([r3.width, r3.height]).toEqual([W, H]);
    expect(Array.from(r3.data.subarray(0, 3))).toEqual(Array.from(plain.data.subarray(-3)));
  });
});

describe('bad inputs are InputErrors naming the file', () => {
  const png = rawPng({ width: 4, height: 4, depth: 8, colorType: 2, rows: Array.from({ length: 4 }, (_, y) => Array.from({ length: 12 }, (_, i) => (i * 37 + y * 11) % 256)) });
  const text = (s: string) => new TextEncoder().encode(s);

  it('empty, truncated and corrupt files', () => {
    expectInputError(() => decodeImage(new Uint8Array(0), 'empty.png'), 'empty.png', /file is empty \(0 bytes\)/);
    expectInputError(() => decodeImage(png.subarray(0, 4), 'sig.png'), 'sig.png', /PNG is truncated or corrupt/);
    expectInputError(() => decodeImage(png.subarray(0, 20), 'ihdr.png'), 'ihdr.png', /PNG is truncated or corrupt \(no IHDR/);
    expectInputError(() => decodeImage(png.subarray(0, png.length - 30), 'cut.png'), 'cut.png', /PNG is truncated or corrupt/);
    // IDAT data starts at byte 41 (signature 8 + IHDR 25 + length and tag 8).
    const zlib = png.slice();
    zlib[41] ^= 0xff;
    expectInputError(() => decodeImage(zlib, 'zlib.png'), 'zlib.png', /cannot decode PNG \(.*invalid zlib data\); the file may be truncated or corrupt/);
    // A flipped bit that still inflates would give wrong pixels silently: the chunk CRC catches it.
    const crc = png.slice();
    crc[41 + new DataView(png.buffer).getUint32(33)] ^= 0x01; // first CRC byte after the IDAT data
    expectInputError(() => decodeImage(crc, 'crc.png'), 'crc.png', /cannot decode PNG \(CRC mismatch for chunk IDAT/);
    expectInputError(() => decodeImage(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2, 9, 9]), 'bad.jpg'), 'bad.jpg', /cannot decode JPEG/);
  });

  it('other formats are named, with the supported ones', () => {
    const cases: [Uint8Array, string, RegExp][] = [
      [text('GIF89a\x01\x00\x01\x00\x80\x00\x00'), 'x.gif', /a GIF image; supported formats are PNG and JPEG/],
      [concat(text('BM'), [0x36, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 40, 0, 0, 0]), 'x.bmp', /a BMP image/],
      [concat(text('RIFF'), [1, 0, 0, 0], text('WEBPVP8 ')), 'x.webp', /a WebP image/],
      [Uint8Array.from([0x49, 0x49, 42, 0, 8, 0, 0, 0]), 'x.tif', /a TIFF image/],
      [concat([0, 0, 0, 24], text('ftypheic')), 'x.heic', /an HEIC\/AVIF image/],
      [text('%PDF-1.7\n'), 'x.pdf', /a PDF document/],
      [text('label,score\nfoo.png,0.3\n'), 'scores.csv', /a text file, not an image/],
      [Uint8Array.from([1, 2, 3, 4, 5, 0, 250, 7]), 'r.bin', /not a recognised image format/],
    ];
    for (const [bytes, name, msg] of cases) expectInputError(() => decodeImage(bytes, name), name, msg);
  });

  it('interlaced sub-byte PNGs are refused rather than mis-decoded', () => {
    const il = rawPng({ width: 1, height: 1, depth: 1, colorType: 0, rows: [[0x80]], interlace: 1 });
    expectInputError(() => decodeImage(il, 'il.png'), 'il.png', /interlaced PNGs with 1-bit samples are not supported/);
  });

  it('images beyond the pixel limit are refused before decoding', () => {
    const huge = rawPng({ width: 20000, height: 10000, depth: 8, colorType: 0, rows: [] });
    expect(20000 * 10000).toBeGreaterThan(MAX_PIXELS);
    expectInputError(() => decodeImage(huge, 'huge.png'), 'huge.png', /20000×10000, more than the 179 megapixels/);
    const jpg = new Uint8Array(jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256) }, 90).data);
    const sof = jpg.findIndex((v, i) => v === 0xff && jpg[i + 1] === 0xc0);
    new DataView(jpg.buffer).setUint16(sof + 5, 10000); // height
    new DataView(jpg.buffer).setUint16(sof + 7, 20000); // width
    expectInputError(() => decodeImage(jpg, 'huge.jpg'), 'huge.jpg', /more than the 179 megapixels/);
  });

  it('sniffFormat', () => {
    expect(sniffFormat(png)).toBe('png');
    expect(sniffFormat(Uint8Array.from(PNG_SIGNATURE))).toBe('png');
    expect(sniffFormat(Uint8Array.from([0xff, 0xd8, 0xff, 0xdb]))).toBe('jpeg');
  });
});
