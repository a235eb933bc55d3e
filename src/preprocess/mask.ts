import { InputError } from '../errors.ts';
import { centerCrop, pilResize } from '../image/pil-resize.ts';
import type { PreprocessConfig } from '../types.ts';

export interface GrayImage { width: number; height: number; data: Uint8Array }

/**
 * Ground truth the way the official evaluation sees it: the mask transform (Pillow bilinear resize, centre crop
 * under `official`), then nearest resize to the map size (torch 'nearest': src = floor(dst·in/out)), then > 0.5.
 * Under `annotate` the mask stays at the image's size (maps are resized back to it) and is only binarised.
 */
export function preprocessMask(mask: GrayImage, cfg: PreprocessConfig, image: { width: number; height: number }, where: string): GrayImage {
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new InputError(where, `mask is ${mask.width}×${mask.height} but its image is ${image.width}×${image.height}`);
  }
  if (cfg.protocol === 'annotate') {
    return { ...mask, data: mask.data.map((v) => (v / 255 > 0.5 ? 1 : 0)) };
  }
  const r = centerCrop(pilResize({ ...mask, channels: 1 }, cfg.resize, cfg.resize), cfg.crop, cfg.crop);
  const M = cfg.mapSize;
  const out = new Uint8Array(M * M);
  const s = r.width / M;
  for (let y = 0; y < M; y++) {
    const sy = Math.min(r.height - 1, Math.floor(y * s));
    for (let x = 0; x < M; x++) {
      const sx = Math.min(r.width - 1, Math.floor(x * s));
      out[y * M + x] = Math.fround(r.data[sy * r.width + sx] / 255) > 0.5 ? 1 : 0;
    }
  }
  return { width: M, height: M, data: out };
}
