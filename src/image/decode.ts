import { convertIndexedToRgb, decode as decodePngRaw, type DecodedPng } from 'fast-png';
import jpeg from 'jpeg-js';
import { InputError } from '../errors.ts';
import type { RgbImage } from '../types.ts';
import { applyOrientation, jpegOrientation, orientationFromTiff } from './exif.ts';

export type ImageFormat = 'png' | 'jpeg';

const SUPPORTED = 'PNG (8/16-bit gray, gray+alpha, RGB, RGBA, palette) and JPEG';

function sniff(b: Uint8Array): ImageFormat | string {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  const ascii = String.fromCharCode(...b.subarray(0, 12));
  if (ascii.startsWith('GIF8')) return 'a GIF image';
  if (ascii.startsWith('BM')) return 'a BMP image';
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'a WebP image';
  if (ascii.startsWith('II*\0') || ascii.startsWith('MM\0*')) return 'a TIFF image';
  return 'not a recognised image';
}

/** The eXIf chunk's TIFF payload, if any (fast-png does not expose it). */
function pngExif(b: Uint8Array): Uint8Array | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let p = 8; p + 8 <= b.length;) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
    if (type === 'eXIf') return b.subarray(p + 8, p + 8 + len);
    if (type === 'IDAT' || type === 'IEND') return undefined;
    p += 12 + len;
  }
  return undefined;
}

/**
 * Pillow's convert('RGB') of what PNG decoding gives. Pillow opens 16-bit colour PNGs keeping the high byte
 * (rawmodes RGB;16B, RGBA;16B, LA;16B), but 16-bit gray as mode I;16, whose conversion to RGB *clips* at 255
 * rather than scaling — so we do the same. Sub-byte gray is scaled to 0..255 as Pillow's L;1/L;2/L;4 unpackers do.
 * Alpha is dropped, not composited, as convert('RGB') drops it.
 */
function pngToRgb(png: DecodedPng): RgbImage {
  const { width, height } = png;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  if (png.palette) {
    const rgb = convertIndexedToRgb(png as Parameters<typeof convertIndexedToRgb>[0]);
    const ch = rgb.length / n;
    for (let i = 0; i < n; i++) { out[i * 3] = rgb[i * ch]; out[i * 3 + 1] = rgb[i * ch + 1]; out[i * 3 + 2] = rgb[i * ch + 2]; }
    return { width, height, data: out };
  }
  const C = png.channels;
  const d = png.data;
  const gray = C <= 2;
  const to8 = png.depth === 16
    ? (gray && C === 1 ? (v: number) => Math.min(v, 255) : (v: number) => v >> 8)
    : png.depth < 8 ? (v: number) => Math.round((v * 255) / ((1 << png.depth) - 1)) : (v: number) => v;
  for (let i = 0; i < n; i++) {
    if (gray) {
      const v = to8(d[i * C]);
      out[i * 3] = v; out[i * 3 + 1] = v; out[i * 3 + 2] = v;
    } else {
      out[i * 3] = to8(d[i * C]); out[i * 3 + 1] = to8(d[i * C + 1]); out[i * 3 + 2] = to8(d[i * C + 2]);
    }
  }
  return { width, height, data: out };
}

/** Decodes PNG or JPEG bytes to 8-bit RGB with EXIF orientation applied. `where` names the file in errors. */
export function decodeImage(bytes: Uint8Array, where: string): RgbImage {
  if (bytes.length === 0) throw new InputError(where, 'file is empty (0 bytes)');
  const kind = sniff(bytes);
  if (kind !== 'png' && kind !== 'jpeg') throw new InputError(where, `${kind}; supported formats: ${SUPPORTED}`);
  let img: RgbImage;
  let orientation = 1;
  try {
    if (kind === 'png') {
      img = pngToRgb(decodePngRaw(bytes));
      const exif = pngExif(bytes);
      if (exif) orientation = orientationFromTiff(exif);
    } else {
      const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 2048, maxResolutionInMP: 400 });
      const n = j.width * j.height;
      const data = new Uint8Array(n * 3);
      for (let i = 0; i < n; i++) { data[i * 3] = j.data[i * 4]; data[i * 3 + 1] = j.data[i * 4 + 1]; data[i * 3 + 2] = j.data[i * 4 + 2]; }
      img = { width: j.width, height: j.height, data };
      orientation = jpegOrientation(bytes);
    }
  } catch (e) {
    throw new InputError(where, `cannot decode ${kind.toUpperCase()} (${(e as Error).message}); the file may be truncated or corrupt`);
  }
  if (img.width === 0 || img.height === 0) throw new InputError(where, 'image has no pixels');
  return applyOrientation(img, orientation);
}

/** A mask as one 8-bit channel: Pillow's convert('L') (ITU-R 601-2 luma, rounded) for colour files. */
export function decodeMask(bytes: Uint8Array, where: string): { width: number; height: number; data: Uint8Array } {
  const img = decodeImage(bytes, where);
  const n = img.width * img.height;
  const data = new Uint8Array(n);
  const d = img.data;
  // Pillow L = (R·19595 + G·38470 + B·7471 + 0x8000) >> 16.
  for (let i = 0; i < n; i++) data[i] = (d[i * 3] * 19595 + d[i * 3 + 1] * 38470 + d[i * 3 + 2] * 7471 + 0x8000) >>> 16;
  return { width: img.width, height: img.height, data };
}
