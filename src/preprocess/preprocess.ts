import { InputError } from '../errors.ts';
import { centerCrop, pilResize, type U8Image } from '../image/pil-resize.ts';
import type { PreprocessConfig, RgbImage } from '../types.ts';

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export const OFFICIAL_PREPROCESS: PreprocessConfig = {
  protocol: 'official', resize: 448, crop: 392, mapSize: 256, mean: IMAGENET_MEAN, std: IMAGENET_STD,
};

/** Model input side: the crop under `official`, the squash size under `annotate`. */
export function inputSize(cfg: PreprocessConfig): number {
  return cfg.protocol === 'official' ? cfg.crop : cfg.resize;
}

/** Validates sizes; names the field. The model input must tile into whole patches. */
export function validatePreprocess(cfg: PreprocessConfig, patchSize: number): void {
  const pos = (v: number, f: string) => {
    if (!Number.isInteger(v) || v < 1) throw new InputError(f, `must be a positive integer, got ${v}`);
  };
  pos(cfg.resize, 'resize');
  pos(cfg.crop, 'crop');
  pos(cfg.mapSize, 'map-size');
  if (cfg.protocol === 'official' && cfg.crop > cfg.resize) throw new InputError('crop', `${cfg.crop} is larger than resize ${cfg.resize}`);
  const s = inputSize(cfg);
  if (s % patchSize) {
    throw new InputError(cfg.protocol === 'official' ? 'crop' : 'resize', `${s} is not a multiple of the model's ${patchSize}-pixel patch`);
  }
}

/**
 * torchvision ToTensor + Normalize in float32: ((v/255) − mean)/std, each step rounded to float32 as torch
 * computes it, tabulated per channel and 8-bit value (bit-identical to the reference).
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
  size: number;
  /** The decoded image's size (annotate maps are resized back to it). */
  source: { width: number; height: number };
}

/** The resized (and, under `official`, centre-cropped) 8-bit RGB image the model sees. */
export function resizeForModel(img: RgbImage, cfg: PreprocessConfig): U8Image {
  const resized = pilResize({ ...img, channels: 3 }, cfg.resize, cfg.resize);
  return cfg.protocol === 'official' ? centerCrop(resized, cfg.crop, cfg.crop) : resized;
}

export function preprocess(img: RgbImage, cfg: PreprocessConfig, patchSize: number, where: string, lut = normalizeLut(cfg.mean, cfg.std)): Preprocessed {
  if (img.width < patchSize || img.height < patchSize) {
    throw new InputError(where, `image is ${img.width}×${img.height}, smaller than one ${patchSize}-pixel patch`);
  }
  const m = resizeForModel(img, cfg);
  const S = m.width;
  const plane = S * S;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    data[i] = lut[m.data[i * 3]];
    data[plane + i] = lut[256 + m.data[i * 3 + 1]];
    data[2 * plane + i] = lut[512 + m.data[i * 3 + 2]];
  }
  return { data, size: S, source: { width: img.width, height: img.height } };
}

/** Stacks preprocessed images of one size into an N×3×S×S batch. */
export function stackBatch(items: Preprocessed[]): { data: Float32Array; shape: [number, number, number, number] } {
  const S = items[0].size;
  const data = new Float32Array(items.length * 3 * S * S);
  items.forEach((it, i) => data.set(it.data, i * 3 * S * S));
  return { data, shape: [items.length, 3, S, S] };
}
