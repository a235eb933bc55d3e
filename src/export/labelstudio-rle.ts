import { decodeBinary, encodeBinary } from '@thi.ng/rle-pack';
import { InputError } from '../errors.ts';
import { checkMask, checkSize, type BinaryMask } from '../image/mask.ts';

/** The parameters label-studio-sdk's brush.encode_rle writes: 8-bit words, run-length fields of 3/4/8/16 bits. */
const WORD_BITS = 8;
const RUN_FIELD_BITS: [number, number, number, number] = [3, 4, 8, 16];
/** N (32 bits), word size − 1 (5 bits), four run-field sizes − 1 (4 bits each). */
const HEADER_BITS = 32 + 5 + 4 * 4;
const MAX_RUN = 2 ** 16;

/**
 * Label Studio brush RLE (`value.rle` of a `brushlabels` result): the mask as an RGBA image, each pixel's 0/255
 * repeated 4×, row-major, packed with @thi.ng/rle-pack — the library the Label Studio editor decodes it with.
 * Bytes equal the SDK's mask2rle, except that for a run split at 65,536 values whose remainder is ≤ 256 the SDK
 * writes the remainder with a 16-bit count and rle-pack with a shorter one (the decoded values are the same).
 */
export function encodeLabelStudioRle(m: BinaryMask): number[] {
  checkMask(m);
  const n = m.width * m.height * 4;
  const rgba = new Uint8Array(n);
  for (let i = 0; i < m.data.length; i++) if (m.data[i]) rgba.fill(255, i * 4, i * 4 + 4);
  const bytes = Array.from(encodeBinary(rgba, n, WORD_BITS, RUN_FIELD_BITS));
  // The SDK pads with 8 − (bits mod 8) zero bits: a whole zero byte when already aligned, where rle-pack adds none.
  // Both decoders ignore it; adding it keeps our bytes equal to the SDK's.
  if (packedBits(m.data) % 8 === 0) bytes.push(0);
  return bytes;
}

/**
 * Length in bits of rle-pack's stream for this mask's RGBA expansion. Every run is ≥ 4 values (one pixel), so
 * rle-pack writes only repeat chunks: flag, 2-bit class, count − 1 in the smallest field that fits, 8-bit value.
 */
function packedBits(data: Uint8Array): number {
  let bits = HEADER_BITS;
  for (let i = 0; i < data.length;) {
    let j = i + 1;
    while (j < data.length && data[j] === data[i]) j++;
    let run = 4 * (j - i);
    for (; run > MAX_RUN; run -= MAX_RUN) bits += 3 + 16 + WORD_BITS;
    bits += 3 + RUN_FIELD_BITS.find((f) => run <= 2 ** f)! + WORD_BITS;
    i = j;
  }
  return bits;
}

/**
 * Decodes a Label Studio brush RLE of a width × height image to a mask. On = alpha > 0: what the editor paints
 * (RLE2Region tests alpha ≠ 0) and what its Brush → COCO export traces; brush strokes drawn in the editor carry
 * anti-aliased alpha values between 1 and 254.
 */
export function decodeLabelStudioRle(rle: ArrayLike<number>, width: number, height: number, where = 'rle'): BinaryMask {
  checkSize(width, height, where);
  for (let i = 0; i < rle.length; i++) {
    const b = rle[i];
    if (!Number.isInteger(b) || b < 0 || b > 255) throw new InputError(`${where}[${i}]`, `must be a byte 0–255, got ${b}`);
  }
  const bytes = Uint8Array.from(rle);
  if (bytes.length * 8 < HEADER_BITS) throw new InputError(where, `has ${bytes.length} bytes, too short for the ${HEADER_BITS}-bit header`);
  // Check the header before decoding: it sizes the output array, and a count for another image size is the usual
  // mistake (an RLE of a resized image or another task).
  const n = bytes[0] * 2 ** 24 + ((bytes[1] << 16) | (bytes[2] << 8) | bytes[3]);
  if (n !== width * height * 4) {
    throw new InputError(where, `decodes to ${n} values, but a ${width}×${height} RGBA image has ${width * height * 4} (from the stream header)`);
  }
  const wordBits = (bytes[4] >> 3) + 1;
  if (wordBits !== WORD_BITS) throw new InputError(where, `has ${wordBits}-bit words, but Label Studio brush RLE uses ${WORD_BITS}`);
  let values: ArrayLike<number>;
  try {
    values = decodeBinary(bytes);
  } catch (e) {
    throw new InputError(where, `is truncated or corrupt: ${(e as Error).message}`);
  }
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = values[i * 4 + 3] > 0 ? 1 : 0;
  return { width, height, data };
}
