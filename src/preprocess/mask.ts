import { InputError } from '../errors.ts';
import { centerCrop } from '../image/crop.ts';
import type { GrayImage } from '../image/decode.ts';
import { pilResize } from '../image/pil-resize.ts';
import type { PreprocessConfig } from '../types.ts';
import { validatePreprocess } from './preprocess.ts';

/**
 * Ground-truth masks the way the official evaluation sees them: the mask transform (Pillow bilinear resize,
 * CenterCrop, ToTensor), then `F.interpolate(mode='nearest')` to the map size and `> 0.5`.
 */

function checkMask(mask: GrayImage, where: string): void {
  if (mask.width < 1 || mask.height < 1 || mask.data.length !== mask.width * mask.height) {
    throw new InputError(where, `mask is ${mask.width}×${mask.height} with ${mask.data.length} values; expected a non-empty single-channel image`);
  }
}

/**
 * The official mask transform: crop×crop float32 values u8/255 (ToTensor's division, so bit-identical to torch).
 * Bilinear resizing makes intermediate values along edges; they are thresholded later.
 */
export function maskTransform(mask: GrayImage, cfg: PreprocessConfig, where = 'mask'): Float32Array {
  validatePreprocess(cfg);
  checkMask(mask, where);
  const r = centerCrop(pilResize({ ...mask, channels: 1 }, cfg.resize, cfg.resize), cfg.crop, cfg.crop);
  return Float32Array.from(r.data, (v) => v / 255);
}

/**
 * torch 1.13's legacy `nearest` source index: scale = float32(in/out), src = min(floor(float32(dst·scale)), in−1),
 * with the same-size and 2× special cases. Float32 matters: a float64 product can floor differently.
 */
export function nearestIndex(dst: number, inSize: number, outSize: number): number {
  if (outSize === inSize) return dst;
  if (outSize === 2 * inSize) return dst >> 1;
  const scale = Math.fround(inSize / outSize);
  return Math.min(Math.floor(Math.fround(dst * scale)), inSize - 1);
}

/**
 * Binary ground truth (0/1) for evaluation. `official`: the mask transform, nearest resize to mapSize×mapSize,
 * then > 0.5. `annotate`: maps are resized back to the image, so the mask keeps its own size and is only
 * thresholded (> 0.5 of 255, i.e. ≥ 128, the same cut).
 */
export function preprocessMask(mask: GrayImage, cfg: PreprocessConfig, where = 'mask'): GrayImage {
  if (cfg.protocol === 'annotate') {
    checkMask(mask, where);
    return { width: mask.width, height: mask.height, data: mask.data.map((v) => (v > 127 ? 1 : 0)) };
  }
  const t = maskTransform(mask, cfg, where);
  const C = cfg.crop;
  const M = cfg.mapSize;
  const cols = Int32Array.from({ length: M }, (_, x) => nearestIndex(x, C, M));
  const out = new Uint8Array(M * M);
  for (let y = 0; y < M; y++) {
    const row = nearestIndex(y, C, M) * C;
    for (let x = 0; x < M; x++) out[y * M + x] = t[row + cols[x]] > 0.5 ? 1 : 0;
  }
  return { width: M, height: M, data: out };
}
