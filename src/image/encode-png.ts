import { encode } from 'fast-png';

/** An 8-bit gray (1), RGB (3) or RGBA (4 channels) image to write: masks, bitmasks and previews. */
export interface PngImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/** 8-bit PNG bytes (gray or RGB), readable by Pillow, browsers and decodeImage/decodeMask. */
export function encodePng(img: PngImage): Uint8Array {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePng: size ${width}×${height} is not a positive integer size`);
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(`encodePng: data has ${data.length} bytes, expected ${width}×${height}×${channels}`);
  }
  return encode({ width, height, data, depth: 8, channels });
}
