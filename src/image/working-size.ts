import type { BinaryMask } from './mask.ts';

/**
 * Large-image policy. The model always sees the image squashed to its input size (224 px), whatever the original.
 * Maps, masks and edits live at a working size: the original when its longer side is at most WORK_MAX, otherwise
 * scaled down to WORK_MAX (aspect kept), so an 8000×8000 photo costs 4 MB of map, not 256 MB. Exports scale masks
 * back to the original size (nearest neighbour), so every exported mask is at full resolution.
 */
export const WORK_MAX = 1024;

export function workingSize(width: number, height: number, max = WORK_MAX): { workWidth: number; workHeight: number } {
  const s = Math.min(1, max / Math.max(width, height));
  return { workWidth: Math.max(1, Math.round(width * s)), workHeight: Math.max(1, Math.round(height * s)) };
}

/** Nearest-neighbour resize of a mask (pixel centres), e.g. from the working size to the original. */
export function resizeMask(m: BinaryMask, width: number, height: number): BinaryMask {
  if (m.width === width && m.height === height) return m;
  const data = new Uint8Array(width * height);
  const xs = Int32Array.from({ length: width }, (_, x) => Math.min(m.width - 1, Math.floor(((x + 0.5) * m.width) / width)));
  for (let y = 0; y < height; y++) {
    const row = Math.min(m.height - 1, Math.floor(((y + 0.5) * m.height) / height)) * m.width;
    for (let x = 0; x < width; x++) data[y * width + x] = m.data[row + xs[x]];
  }
  return { width, height, data };
}
