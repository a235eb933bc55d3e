import { InputError } from '../errors.ts';
import { centerCrop } from '../image/crop.ts';
import { pilResize, type U8Image } from '../image/pil-resize.ts';
import type { PreprocessConfig, RgbImage } from '../types.ts';

/**
 * Image → model input. `official` is INP-Former's `get_data_transforms(resize, crop)`: Pillow bilinear squash to
 * resize×resize, ToTensor, CenterCrop(crop), Normalize — reproduced bit for bit. `annotate` squashes to
 * resize×resize without the crop, so the map covers the whole image and can be resized back onto it.
 */

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export const OFFICIAL_PREPROCESS: PreprocessConfig = {
  protocol: 'official', resize: 448, crop: 392, mapSize: 256, mean: IMAGENET_MEAN, std: IMAGENET_STD,
};

/** Model input side: the crop under `official`, the squash size under `annotate`. */
export function inputSize(cfg: PreprocessConfig): number {
  return cfg.protocol === 'official' ? cfg.crop : cfg.resize;
}

/**
 * Checks a config from flags or a manifest; errors name the field. When `patchSize` is given, the model input
 * must tile into whole patches.
 */
export function validatePreprocess(cfg: PreprocessConfig, patchSize?: number): void {
  if (cfg.protocol !== 'official' && cfg.protocol !== 'annotate') {
    throw new InputError('protocol', `must be "official" or "annotate", got ${JSON.stringify(cfg.protocol)}`);
  }
  const positive = (v: number, field: string) => {
    if (!Number.isInteger(v) || v < 1) throw new InputError(field, `must be a positive integer, got ${v}`);
  };
  positive(cfg.resize, 'resize');
  positive(cfg.crop, 'crop');
  positive(cfg.mapSize, 'map-size');
  for (const [field, v] of [['mean', cfg.mean], ['std', cfg.std]] as const) {
    if (!Array.isArray(v) || v.length !== 3 || !v.every(Number.isFinite) || (field === 'std' && v.some((s) => s === 0))) {
      throw new InputError(field, `must be 3 finite numbers${field === 'std' ? ', none zero' : ''}, got ${JSON.stringify(v)}`);
    }
  }
  if (cfg.protocol === 'official' && cfg.crop > cfg.resize) {
    throw new InputError('crop', `${cfg.crop} is larger than resize ${cfg.resize}`);
  }
  if (patchSize !== undefined && inputSize(cfg) % patchSize !== 0) {
    const field = cfg.protocol === 'official' ? 'crop' : 'resize';
    throw new InputError(field, `${inputSize(cfg)} is not a multiple of the model's ${patchSize}-pixel patch`);
  }
}

/**
 * torchvision ToTensor + Normalize as a [3][256] float32 table: ((v/255) − mean)/std with every step rounded to
 * float32, as torch computes it (mean and std are float32 tensors). Bit-identical to the reference.
 */
export function normalizeLut(mean: readonly number[], std: readonly number[]): Float32Array {
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
  }
  return lut;
}

export interface Preprocessed {
  /** 1×3×S×S, NCHW, normalised. */
  data: Float32Array;
  /** S: the model input side. */
  size: number;
  /** The decoded image's size, so an `annotate` map can be resized back onto it. */
  source: { width: number; height: number };
}

/** The 8-bit RGB image the model sees: squashed to resize×resize and, under `official`, centre-cropped. */
export function resizeForModel(img: RgbImage, cfg: PreprocessConfig): U8Image {
  const resized = pilResize({ ...img, channels: 3 }, cfg.resize, cfg.resize);
  return cfg.protocol === 'official' ? centerCrop(resized, cfg.crop, cfg.crop) : resized;
}

/**
 * Decoded image → normalised NCHW input. With `patchSize`, images narrower or shorter than one patch are
 * refused: resizing would still produce an input, but from less than one patch of real pixels the map is
 * meaningless, so this is almost surely a wrong file. `where` names the file in errors.
 */
export function preprocess(img: RgbImage, cfg: PreprocessConfig, patchSize?: number, where = 'image'): Preprocessed {
  validatePreprocess(cfg, patchSize);
  if (img.data.length !== img.width * img.height * 3) {
    throw new InputError(where, `pixel data has ${img.data.length} bytes, expected ${img.width}×${img.height}×3`);
  }
  if (patchSize !== undefined && (img.width < patchSize || img.height < patchSize)) {
    throw new InputError(where, `image is ${img.width}×${img.height}, smaller than one ${patchSize}-pixel patch`);
  }
  const m = resizeForModel(img, cfg);
  return { data: normalizeForModel(m, cfg), size: m.width, source: { width: img.width, height: img.height } };
}

/**
 * An image already at the model's input size (resizeForModel's output, or a training image made from it) → the
 * normalised 3×S×S planes.
 */
export function normalizeForModel(m: { width: number; data: Uint8Array }, cfg: Pick<PreprocessConfig, 'mean' | 'std'>): Float32Array {
  const lut = normalizeLut(cfg.mean, cfg.std);
  const plane = m.width * m.width;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    data[i] = lut[m.data[i * 3]];
    data[plane + i] = lut[256 + m.data[i * 3 + 1]];
    data[2 * plane + i] = lut[512 + m.data[i * 3 + 2]];
  }
  return data;
}

/** Stacks preprocessed images of one size into an N×3×S×S batch. */
export function stackBatch(items: readonly Preprocessed[]): { data: Float32Array; shape: [number, number, number, number] } {
  if (items.length === 0) throw new RangeError('stackBatch: no images');
  const S = items[0].size;
  const per = 3 * S * S;
  const data = new Float32Array(items.length * per);
  items.forEach((it, i) => {
    if (it.size !== S) throw new RangeError(`stackBatch: image ${i} is ${it.size}×${it.size}, the first is ${S}×${S}`);
    data.set(it.data, i * per);
  });
  return { data, shape: [items.length, 3, S, S] };
}
