import type { RgbImage } from '../types.ts';

/**
 * EXIF orientation (tag 0x0112) and Pillow's `ImageOps.exif_transpose`. Cameras store pixels as the sensor read
 * them and record the rotation here; Pillow-based pipelines rotate before anything else, so we do too.
 * Absent or unreadable EXIF means orientation 1: a broken metadata block should not cost the image.
 */

const ORIENTATION_TAG = 0x0112;
const EXIF_HEADER = Uint8Array.from([0x45, 0x78, 0x69, 0x66, 0, 0]); // "Exif\0\0"

function startsWith(b: Uint8Array, prefix: Uint8Array): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

/** Orientation from a TIFF-structured EXIF block (optionally behind the "Exif\0\0" header); 1 when absent or unreadable. */
export function orientationFromTiff(block: Uint8Array): number {
  const tiff = startsWith(block, EXIF_HEADER) ? block.subarray(EXIF_HEADER.length) : block;
  if (tiff.length < 8) return 1;
  const le = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!le && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return 1;
  const dv = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const ifd = dv.getUint32(4, le);
  if (ifd + 2 > tiff.length) return 1;
  const n = dv.getUint16(ifd, le);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > tiff.length) break;
    if (dv.getUint16(e, le) !== ORIENTATION_TAG) continue;
    const type = dv.getUint16(e + 2, le);
    // SHORT is what the standard prescribes; some writers use LONG.
    const v = type === 3 ? dv.getUint16(e + 8, le) : type === 4 ? dv.getUint32(e + 8, le) : 1;
    return v >= 1 && v <= 8 ? v : 1;
  }
  return 1;
}

/** Orientation from a JPEG's first APP1 "Exif\0\0" segment (the one Pillow reads). */
export function jpegOrientation(bytes: Uint8Array): number {
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) break;
    const marker = bytes[p + 1];
    if (marker === 0xff) { p++; continue; } // fill byte before a marker
    if (marker === 0xda || marker === 0xd9) break; // scan data or end: EXIF only comes before
    const len = (bytes[p + 2] << 8) | bytes[p + 3];
    const body = bytes.subarray(p + 4, p + 2 + len);
    if (marker === 0xe1 && startsWith(body, EXIF_HEADER)) return orientationFromTiff(body);
    p += 2 + len;
  }
  return 1;
}

/**
 * Orientation from a PNG's eXIf chunk. Pillow honours it before or after the image data (it reads trailing
 * chunks on load), so the whole chunk list is searched. Assumes the caller checked the signature.
 */
export function pngOrientation(bytes: Uint8Array): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = 8; p + 8 <= bytes.length;) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]);
    if (type === 'eXIf') return orientationFromTiff(bytes.subarray(p + 8, Math.min(bytes.length, p + 8 + len)));
    if (type === 'IEND') break;
    p += 12 + len;
  }
  return 1;
}

/**
 * Pillow's exif_transpose: 2 flip left-right, 3 rotate 180°, 4 flip top-bottom, 5 transpose,
 * 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° counter-clockwise. Returns `img` itself for 1.
 */
export function applyOrientation(img: RgbImage, orientation: number): RgbImage {
  if (orientation <= 1 || orientation > 8) return img;
  const { width: w, height: h, data } = img;
  const swap = orientation >= 5;
  const W = swap ? h : w;
  const H = swap ? w : h;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // Source pixel of destination (x, y).
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: sx = w - 1 - x; sy = y; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sx = x; sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        default: sx = w - 1 - y; sy = x; break; // 8
      }
      const s = (sy * w + sx) * 3;
      const d = (y * W + x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width: W, height: H, data: out };
}
