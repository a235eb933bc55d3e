import { InputError } from '../errors.ts';

/** A binary mask, row-major, 0/1. */
export interface BinaryMask { width: number; height: number; data: Uint8Array }

/** Tight inclusive box [left, top, right, bottom] of the on pixels, or null for an empty mask. */
export function tightBox(m: BinaryMask): [number, number, number, number] | null {
  let l = m.width; let t = m.height; let r = -1; let b = -1;
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (m.data[y * m.width + x]) { if (x < l) l = x; if (x > r) r = x; if (y < t) t = y; b = y; }
    }
  }
  return r < 0 ? null : [l, t, r, b];
}

export function checkMask(m: BinaryMask, where: string): void {
  if (!Number.isInteger(m.width) || !Number.isInteger(m.height) || m.width < 1 || m.height < 1) throw new InputError(where, `bad mask size ${m.width}×${m.height}`);
  if (m.data.length !== m.width * m.height) throw new InputError(where, `mask has ${m.data.length} values, expected ${m.width}×${m.height}`);
}
