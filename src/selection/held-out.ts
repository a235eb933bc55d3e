import { InputError } from '../errors.ts';
import type { GrayImage } from '../image/decode.ts';
import type { AnomalyMap, RgbImage } from '../types.ts';
import { syntheticDefect } from './synthetic.ts';
import { validationFigures, type ValidationFigures, type ValidationMap } from './validate.ts';

/** Every HOLD_OUT_EVERY-th normal is kept out of training to judge the result. */
export const HOLD_OUT_EVERY = 4;

/** Normals for training and for validation: every 4th is held out, so at least 4 are needed. */
export function holdOutSplit<T>(normals: readonly T[], where = 'normals'): { fit: T[]; heldOut: T[] } {
  if (normals.length < HOLD_OUT_EVERY) {
    throw new InputError(where, `${normals.length} normal image(s): training needs at least ${HOLD_OUT_EVERY}, since every ${HOLD_OUT_EVERY}th is held out to check the trained model against the one in use`);
  }
  return {
    fit: normals.filter((_, i) => i % HOLD_OUT_EVERY !== HOLD_OUT_EVERY - 1),
    heldOut: normals.filter((_, i) => i % HOLD_OUT_EVERY === HOLD_OUT_EVERY - 1),
  };
}

/** A validation image and its defect mask (null: a normal image). */
export interface ValidationImage { image: RgbImage; mask: GrayImage | null }

/**
 * The images two detectors are judged on: the held-out normals, and the annotator's accepted defects — or, while
 * there are none, one synthetic defect on each held-out normal (donor texture from the training normals).
 */
export function validationImages(heldOut: readonly RgbImage[], donors: readonly RgbImage[], accepted: readonly ValidationImage[] = [], seed = 1): { images: ValidationImage[]; synthetic: boolean } {
  if (!heldOut.length) throw new InputError('validation', 'no held-out normal image');
  const normals = heldOut.map((image) => ({ image, mask: null }));
  if (accepted.length) return { images: [...normals, ...accepted], synthetic: false };
  const pool = donors.length ? donors : heldOut;
  const defects = heldOut.map((image, i) => syntheticDefect(image, pool[i % pool.length], seed + i));
  return { images: [...normals, ...defects], synthetic: true };
}

/** Nearest-neighbour resize of a 0/1 mask onto a map's grid (validation maps may be at the model's map size). */
export function maskOnto(mask: GrayImage, width: number, height: number): Uint8Array {
  if (mask.width === width && mask.height === height) return mask.data.map((v) => (v ? 1 : 0));
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(mask.height - 1, Math.floor(((y + 0.5) * mask.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(mask.width - 1, Math.floor(((x + 0.5) * mask.width) / width));
      out[y * width + x] = mask.data[sy * mask.width + sx] ? 1 : 0;
    }
  }
  return out;
}

/** One detector's figures on the validation images; `mapOf` runs it (any map size: masks are resized onto it). */
export async function scoreDetector(
  v: { images: readonly ValidationImage[]; synthetic: boolean }, mapOf: (image: RgbImage) => Promise<{ map: AnomalyMap; score: number }>,
  signal?: AbortSignal,
): Promise<ValidationFigures> {
  const items: ValidationMap[] = [];
  for (const it of v.images) {
    signal?.throwIfAborted();
    const { map, score } = await mapOf(it.image);
    items.push({ map, score, mask: it.mask ? maskOnto(it.mask, map.width, map.height) : null });
  }
  return validationFigures(items, v.synthetic);
}
