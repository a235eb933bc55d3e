import { InputError } from '../errors.ts';

/** A binary mask: row-major, one byte per pixel, 0 = off, 1 = on. */
export interface BinaryMask { width: number; height: number; data: Uint8Array }

/** Throws unless width × height is a positive integer image size. */
export function checkSize(width: number, height: number, where: string): void {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new InputError(where, `image size must be positive integers, got width ${width}, height ${height}`);
  }
}

/**
 * Throws unless `m` is a well-formed BinaryMask. Values other than 0/1 are rejected rather than read as "on":
 * a 0/255 PNG or a scaled score map passed by mistake would otherwise export silently as a different mask.
 */
export function checkMask(m: BinaryMask, where = 'mask'): void {
  checkSize(m.width, m.height, where);
  if (!(m.data instanceof Uint8Array)) throw new InputError(`${where}.data`, 'must be a Uint8Array');
  if (m.data.length !== m.width * m.height) {
    throw new InputError(`${where}.data`, `has ${m.data.length} values, but a ${m.width}×${m.height} mask has ${m.width * m.height}`);
  }
  for (let i = 0; i < m.data.length; i++) {
    if (m.data[i] > 1) throw new InputError(`${where}.data[${i}]`, `must be 0 or 1, got ${m.data[i]}`);
  }
}

/** Tight inclusive box [left, top, right, bottom] of the on pixels, or null for an empty mask. */
export function tightBox(m: BinaryMask): [number, number, number, number] | null {
  let l = m.width; let t = -1; let r = -1; let b = -1;
  for (let y = 0; y < m.height; y++) {
    const row = y * m.width;
    for (let x = 0; x < m.width; x++) {
      if (!m.data[row + x]) continue;
      if (t < 0) t = y;
      b = y;
      if (x < l) l = x;
      if (x > r) r = x;
    }
  }
  return t < 0 ? null : [l, t, r, b];
}
