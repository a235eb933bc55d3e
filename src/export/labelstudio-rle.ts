import { decode as rleUnpack, encode as rlePack } from '@thi.ng/rle-pack';
import { InputError } from '../errors.ts';
import { checkMask, type BinaryMask } from './mask.ts';

/**
 * Label Studio brush RLE: the mask as RGBA bytes (each pixel's 0/255 repeated 4×), packed with @thi.ng/rle-pack —
 * the library Label Studio's editor decodes with — using the word size and run classes of label-studio-converter
 * (8 bits; 3/4/8/16-bit runs). The Python converter pads a byte-aligned stream with one more zero byte than
 * rle-pack; we add it too so our bytes equal what Label Studio's own SDK writes (both decode the same).
 */
export function encodeLabelStudioRle(m: BinaryMask): number[] {
  checkMask(m, 'mask');
  const n = m.width * m.height * 4;
  const values = new Uint8Array(n);
  for (let i = 0; i < m.data.length; i++) if (m.data[i]) values.fill(255, i * 4, i * 4 + 4);
  const packed = rlePack(values, n, 8, [3, 4, 8, 16]);
  const bits = bitLength(values);
  return bits % 8 === 0 ? [...packed, 0] : [...packed];
}

/** Length in bits of the rle-pack stream (header 32 + 5 + 16, then each run), to know if it ended byte-aligned. */
function bitLength(v: Uint8Array): number {
  let bits = 32 + 5 + 16;
  for (let i = 0; i < v.length;) {
    let j = i;
    while (j < v.length && v[j] === v[i]) j++;
    let run = j - i;
    while (run > 65536) { bits += 3 + 16 + 8; run -= 65536; }
    bits += run === 1 ? 1 + 2 + 3 + 8 : 1 + 2 + (run <= 8 ? 3 : run <= 16 ? 4 : run <= 256 ? 8 : 16) + 8;
    i = j;
  }
  return bits;
}

export function decodeLabelStudioRle(rle: ArrayLike<number>, width: number, height: number, where = 'rle'): BinaryMask {
  let values: ArrayLike<number>;
  try {
    values = rleUnpack(Uint8Array.from(rle));
  } catch (e) {
    throw new InputError(where, `not a Label Studio brush RLE (${(e as Error).message})`);
  }
  if (values.length !== width * height * 4) {
    throw new InputError(where, `decodes to ${values.length} values, but a ${width}×${height} RGBA image has ${width * height * 4}`);
  }
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = values[i * 4 + 3] > 127 ? 1 : 0;
  return { width, height, data };
}
