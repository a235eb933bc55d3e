import { decode as decodePngRaw, encode as encodePngRaw } from 'fast-png';
import { InputError } from '../errors.ts';
import { decodeMask } from '../image/decode.ts';
import { encodePng } from '../image/encode-png.ts';
import { checkAnnotatedImages, fileStem, type AnnotatedImage, type AnnotatedRegion } from './annotations.ts';
import type { BinaryMask } from '../image/mask.ts';

/** Output names, relative to the output folder: masks/<stem>.png and, longer, masks/<stem>.instances.png. */
export function maskPngNames(fileName: string): { mask: string; instances: string } {
  const stem = fileStem(fileName);
  return { mask: `masks/${stem}.png`, instances: `masks/${stem}.instances.png` };
}

/**
 * PNG files for a set: per image a binary mask (grayscale 0/255, the union of its regions) and an instance image
 * (region k → value k, 0 = background; 8-bit gray, 16-bit when more than 255 regions). Where regions overlap the
 * later one wins in the instance image. Two inputs whose names collide (same stem) are an error, not an overwrite.
 */
export function buildMaskPngs(images: readonly AnnotatedImage[]): Map<string, Uint8Array> {
  checkAnnotatedImages(images);
  const files = new Map<string, Uint8Array>();
  const owner = new Map<string, string>();
  for (const img of images) {
    const names = maskPngNames(img.fileName);
    for (const name of [names.mask, names.instances]) {
      const other = owner.get(name);
      if (other !== undefined) throw new InputError(img.fileName, `its mask file ${name} would overwrite the one of "${other}"; rename one of them`);
      owner.set(name, img.fileName);
    }
    const n = img.width * img.height;
    const union = new Uint8Array(n);
    const ids = img.regions.length > 255 ? new Uint16Array(n) : new Uint8Array(n);
    img.regions.forEach((r, k) => {
      for (let i = 0; i < n; i++) if (r.mask.data[i]) { union[i] = 255; ids[i] = k + 1; }
    });
    files.set(names.mask, encodePng({ width: img.width, height: img.height, channels: 1, data: union }));
    // encodePng is 8-bit only; 16-bit gray goes to fast-png directly.
    files.set(names.instances, ids instanceof Uint8Array
      ? encodePng({ width: img.width, height: img.height, channels: 1, data: ids })
      : encodePngRaw({ width: img.width, height: img.height, channels: 1, depth: 16, data: ids }));
  }
  // A reviewed set (the workspace's) says what PNGs cannot: each image's verdict and each instance's review state.
  if (images.some((img) => img.status !== undefined || img.regions.some((r) => r.review !== undefined))) {
    const review = images.map((img) => ({
      file: img.fileName, mask: maskPngNames(img.fileName).mask, ...(img.status ? { status: img.status } : {}),
      instances: img.regions.map((r, k) => ({ id: k + 1, ...(r.review ? { review: r.review } : {}), ...(r.score !== undefined ? { score: r.score } : {}) })),
    }));
    files.set(REVIEW_FILE, new TextEncoder().encode(`${JSON.stringify(review, null, 2)}\n`));
  }
  return files;
}

/** Beside a reviewed set's PNGs: per image its verdict and per instance value its review state and score. */
export const REVIEW_FILE = 'masks/review.json';

/** A binary mask PNG back to a mask: gray ≥ 128 is on (Pillow's convert('L') for colour files). */
export function decodeMaskPng(bytes: Uint8Array, where: string): BinaryMask {
  const g = decodeMask(bytes, where);
  const data = new Uint8Array(g.data.length);
  for (let i = 0; i < data.length; i++) data[i] = g.data[i] >= 128 ? 1 : 0;
  return { width: g.width, height: g.height, data };
}

/** An instance PNG (8- or 16-bit gray) back to one region per distinct non-zero value, in increasing value. */
export function decodeInstancePng(bytes: Uint8Array, where: string): { width: number; height: number; regions: AnnotatedRegion[] } {
  let png;
  try {
    png = decodePngRaw(bytes);
  } catch (e) {
    throw new InputError(where, `cannot decode PNG (${(e as Error).message})`);
  }
  if (png.channels !== 1 || (png.depth !== 8 && png.depth !== 16) || png.palette) {
    throw new InputError(where, `an instance PNG must be 8- or 16-bit grayscale, got ${png.channels} channel(s) of ${png.depth} bits${png.palette ? ' with a palette' : ''}`);
  }
  const { width, height, data } = png;
  const ids = [...new Set(data as Iterable<number>)].filter((v) => v > 0).sort((a, b) => a - b);
  const regions = ids.map((id): AnnotatedRegion => {
    const m = new Uint8Array(width * height);
    for (let i = 0; i < m.length; i++) m[i] = data[i] === id ? 1 : 0;
    return { mask: { width, height, data: m } };
  });
  return { width, height, regions };
}
