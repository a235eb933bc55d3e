import { InputError } from '../errors.ts';
import { decodeAlphaMask } from '../image/decode.ts';
import { encodePng } from '../image/encode-png.ts';
import { checkMask, type BinaryMask } from '../image/mask.ts';

/**
 * Label Studio's BitmaskLabels value (`value.imageDataURL`): the mask as a PNG data URL, black opaque pixels on a
 * transparent background, at the image's natural size (BitmaskRegion restores and serialises it that way).
 */
const PREFIX = 'data:image/png;base64,';

export function encodeBitmaskDataUrl(mask: BinaryMask): string {
  checkMask(mask);
  const rgba = new Uint8Array(mask.width * mask.height * 4);
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) rgba[i * 4 + 3] = 255;
  const png = encodePng({ width: mask.width, height: mask.height, channels: 4, data: rgba });
  // btoa over a binary string, in chunks: no Buffer in the platform-free library, no argument-count limit.
  let bin = '';
  for (let i = 0; i < png.length; i += 0x8000) bin += String.fromCharCode(...png.subarray(i, i + 0x8000));
  return PREFIX + btoa(bin);
}

/** A bitmask data URL back to a mask (on where alpha > 0), checked against the size the result states. */
export function decodeBitmaskDataUrl(url: unknown, width: number, height: number, where: string): BinaryMask {
  if (typeof url !== 'string' || !url.startsWith(PREFIX)) throw new InputError(where, `must be a PNG data URL ("${PREFIX}…")`);
  let bin: string;
  try {
    bin = atob(url.slice(PREFIX.length));
  } catch {
    throw new InputError(where, 'is not valid base64');
  }
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const img = decodeAlphaMask(bytes, where);
  if (img.width !== width || img.height !== height) throw new InputError(where, `is ${img.width}×${img.height}, but the result says ${width}×${height}`);
  return { width, height, data: Uint8Array.from(img.data, (v) => (v ? 1 : 0)) };
}
