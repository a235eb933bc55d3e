import { decode as decodePngRaw, type DecodedPng } from 'fast-png';
import jpeg from 'jpeg-js';
import { InputError } from '../errors.ts';
import type { RgbImage } from '../types.ts';
import { applyOrientation, jpegOrientation, pngOrientation } from './exif.ts';

/**
 * PNG and JPEG bytes → 8-bit RGB as Pillow's `ImageOps.exif_transpose(Image.open(f)).convert('RGB')` gives it,
 * because the official pipeline (and the fixtures) start from Pillow. Pure JS, so it runs in the browser too.
 *
 * PNG is bit-exact to Pillow 9.4 for every colour type and depth:
 * - 16-bit RGB / RGBA / gray+alpha keep the high byte (Pillow's RGB;16B, RGBA;16B, LA;16B unpackers);
 * - 16-bit gray opens as mode I (I;16 in newer Pillow), whose convert('RGB') *clips* to 255 rather than scaling,
 *   so 16-bit gray ≥ 255 becomes white — surprising, but it is what a Pillow-trained model saw;
 * - 1/2/4-bit gray scale to 0..255 (v·255/(2^d−1)), as the 1, L;2 and L;4 unpackers do;
 * - palette indices beyond the PLTE entries read Pillow's default grey ramp (i, i, i);
 * - alpha and tRNS are dropped, not composited: that is what convert('RGB') does.
 * JPEG goes through jpeg-js, whose IDCT and (nearest) chroma upsampling differ from libjpeg's, so JPEG is not
 * bit-exact: within 1–2 levels for gray and 4:4:4 files; for the common 4:2:0 files about 1 level on average,
 * up to ~30 at sharp colour edges. Grayscale and Adobe CMYK/YCCK JPEGs are converted to RGB as Pillow does.
 */

export type ImageFormat = 'png' | 'jpeg';

/** A single-channel 8-bit image, row-major. */
export interface GrayImage {
  width: number;
  height: number;
  data: Uint8Array;
}

const SUPPORTED = 'supported formats are PNG and JPEG';
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

/** Pillow's decompression-bomb limit (2 × Image.MAX_IMAGE_PIXELS): larger images are refused, not decoded. */
export const MAX_PIXELS = 2 * 89_478_485;

/** 'png', 'jpeg', or a phrase saying what the bytes are, for the error message. */
export function sniffFormat(b: Uint8Array): ImageFormat | string {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  // A file cut inside the signature still counts, so it is reported as truncated rather than unknown.
  const signature = (sig: readonly number[]) => b.length >= 2 && sig.every((v, i) => i >= b.length || b[i] === v);
  if (signature(PNG_SIGNATURE)) return 'png';
  if (signature(JPEG_SIGNATURE)) return 'jpeg';
  if (ascii(0, 4) === 'GIF8') return 'a GIF image';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'a WebP image';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'a TIFF image';
  if (ascii(4, 8) === 'ftyp') return 'an HEIC/AVIF image';
  if (ascii(0, 4) === '%PDF') return 'a PDF document';
  // Before 'BM', which a text file may start with; a real BMP's size field has control bytes.
  if (looksLikeText(b.subarray(0, 512))) return 'a text file, not an image';
  if (ascii(0, 2) === 'BM') return 'a BMP image';
  return 'not a recognised image format';
}

function looksLikeText(head: Uint8Array): boolean {
  // Printable ASCII, whitespace and UTF-8 continuation/lead bytes; no control bytes.
  return head.length > 0 && head.every((c) => c >= 0x20 || c === 0x09 || c === 0x0a || c === 0x0d);
}

interface PngHeader { width: number; height: number; depth: number; interlaced: boolean }

/** IHDR, which the PNG spec requires to be the first chunk. */
function pngHeader(b: Uint8Array): PngHeader | undefined {
  if (b.length < 33 || String.fromCharCode(b[12], b[13], b[14], b[15]) !== 'IHDR') return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20), depth: b[24], interlaced: b[28] === 1 };
}

/** Whether the file ends before a complete IEND chunk: fast-png's own error for that is a bare RangeError. */
function pngTruncated(b: Uint8Array): boolean {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let p = 8; p + 12 <= b.length;) {
    if (String.fromCharCode(b[p + 4], b[p + 5], b[p + 6], b[p + 7]) === 'IEND') return false;
    p += 12 + dv.getUint32(p);
  }
  return true;
}

/** Unpacks 1/2/4-bit samples (rows padded to whole bytes) to one byte per pixel. */
function unpackSubByte(packed: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (packed[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

function pngToRgb(png: DecodedPng): RgbImage {
  const { width, height, depth, channels: C } = png;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const d = depth < 8 ? unpackSubByte(png.data, width, height, depth) : png.data;
  if (png.palette) {
    const pal = png.palette;
    for (let i = 0; i < n; i++) {
      const idx = d[i];
      const e = pal[idx];
      out[i * 3] = e ? e[0] : idx;
      out[i * 3 + 1] = e ? e[1] : idx;
      out[i * 3 + 2] = e ? e[2] : idx;
    }
    return { width, height, data: out };
  }
  const to8: (v: number) => number = depth === 16
    ? (C === 1 ? (v) => Math.min(v, 255) : (v) => v >> 8)
    : depth < 8 ? (v) => (v * 255) / ((1 << depth) - 1) : (v) => v;
  const gray = C <= 2;
  for (let i = 0; i < n; i++) {
    const s = i * C;
    const r = to8(d[s]);
    out[i * 3] = r;
    out[i * 3 + 1] = gray ? r : to8(d[s + 1]);
    out[i * 3 + 2] = gray ? r : to8(d[s + 2]);
  }
  return { width, height, data: out };
}

function decodePng(bytes: Uint8Array, where: string): RgbImage {
  return pngToRgb(readPng(bytes, where));
}

/** PNG bytes → fast-png's raw decode, after the checks every PNG we read gets (header, truncation, size, CRCs). */
function readPng(bytes: Uint8Array, where: string): DecodedPng {
  const h = pngHeader(bytes);
  if (!h) throw new InputError(where, 'PNG is truncated or corrupt (no IHDR header chunk)');
  if (pngTruncated(bytes)) throw new InputError(where, `PNG is truncated or corrupt: its chunks run past the end of the file (${bytes.length} bytes) before IEND`);
  checkPixels(h.width, h.height, where);
  // fast-png mis-decodes interlaced images with sub-byte samples; refuse rather than return wrong pixels.
  if (h.interlaced && h.depth < 8) {
    throw new InputError(where, `interlaced PNGs with ${h.depth}-bit samples are not supported; save it without interlacing or at 8 bits`);
  }
  let png: DecodedPng;
  try {
    // Pillow rejects bad header-chunk CRCs; checking every chunk also catches corrupt image data that would
    // otherwise inflate to wrong pixels without an error.
    png = decodePngRaw(bytes, { checkCrc: true });
  } catch (e) {
    throw new InputError(where, `cannot decode PNG (${reason(e)}); the file may be truncated or corrupt`);
  }
  return png;
}

/**
 * A mask drawn as opaque pixels on a transparent background (Label Studio's bitmask PNG: black on transparent):
 * on where alpha > 0. A PNG without an alpha channel cannot say which pixels are drawn, so it is refused.
 */
export function decodeAlphaMask(bytes: Uint8Array, where: string): GrayImage {
  if (bytes.length === 0) throw new InputError(where, 'file is empty (0 bytes)');
  if (sniffFormat(bytes) !== 'png') throw new InputError(where, 'a bitmask must be a PNG with an alpha channel');
  const png = readPng(bytes, where);
  const C = png.channels;
  if (C !== 2 && C !== 4) throw new InputError(where, `bitmask PNG has no alpha channel (${C} channel${C > 1 ? 's' : ''}): the drawn pixels are the non-transparent ones`);
  const n = png.width * png.height;
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = png.data[i * C + C - 1] > 0 ? 255 : 0;
  return { width: png.width, height: png.height, data };
}

function decodeJpeg(bytes: Uint8Array, where: string): RgbImage {
  try {
    const j = jpeg.decode(bytes, {
      useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 4096,
    });
    checkPixels(j.width, j.height, where);
    return { width: j.width, height: j.height, data: j.data };
  } catch (e) {
    if (e instanceof InputError) throw e;
    if (/^maxResolutionInMP/.test((e as Error).message)) {
      throw new InputError(where, `image is more than the ${Math.round(MAX_PIXELS / 1e6)} megapixels accepted`);
    }
    throw new InputError(where, `cannot decode JPEG (${reason(e)}); the file may be truncated or corrupt`);
  }
}

/** A decoder's message, with its cause (fast-png wraps zlib errors). */
function reason(e: unknown): string {
  const err = e as Error;
  const cause = err.cause instanceof Error ? ` ${err.cause.message}` : '';
  return `${err.message}${cause}`.replace(/:\s*$/, '');
}

function checkPixels(width: number, height: number, where: string): void {
  if (width === 0 || height === 0) throw new InputError(where, `image is ${width}×${height}: it has no pixels`);
  if (width * height > MAX_PIXELS) {
    throw new InputError(where, `image is ${width}×${height}, more than the ${Math.round(MAX_PIXELS / 1e6)} megapixels accepted`);
  }
}

/** PNG or JPEG bytes → 8-bit RGB with EXIF orientation applied. `where` names the file in errors. */
export function decodeImage(bytes: Uint8Array, where: string): RgbImage {
  if (bytes.length === 0) throw new InputError(where, 'file is empty (0 bytes)');
  const format = sniffFormat(bytes);
  if (format !== 'png' && format !== 'jpeg') throw new InputError(where, `${format}; ${SUPPORTED}`);
  const img = format === 'png' ? decodePng(bytes, where) : decodeJpeg(bytes, where);
  return applyOrientation(img, format === 'png' ? pngOrientation(bytes) : jpegOrientation(bytes));
}

/**
 * A mask as one 8-bit channel: Pillow's convert('L') of the decoded image. For colour files that is ITU-R 601-2
 * luma in Pillow's fixed point, L = (19595·R + 38470·G + 7471·B + 2^15) >> 16; for gray files it is the value.
 */
export function decodeMask(bytes: Uint8Array, where: string): GrayImage {
  const img = decodeImage(bytes, where);
  const n = img.width * img.height;
  const data = new Uint8Array(n);
  const d = img.data;
  for (let i = 0; i < n; i++) data[i] = (d[i * 3] * 19595 + d[i * 3 + 1] * 38470 + d[i * 3 + 2] * 7471 + 0x8000) >>> 16;
  return { width: img.width, height: img.height, data };
}
