import { InputError } from '../errors.ts';
import type { Calibration } from '../types.ts';
import { checkMask, type BinaryMask } from '../image/mask.ts';

/**
 * What every writer takes and every reader gives back: per image, its regions as full-size masks. Plain data, so the
 * CLI, the servers and the browser share it; the readers return the masks the writers were given.
 */

/** One proposed (or imported) region. */
export interface AnnotatedRegion {
  /** At the image's size; on pixels = the region. */
  mask: BinaryMask;
  /** Confidence shown to the annotator (our proposals: the normalised max score, 0.5 = the threshold). */
  score?: number;
  /** Raw map statistics, kept in COCO `attributes`. */
  maxScore?: number;
  meanScore?: number;
  /** Category; default ExportSource.label. */
  label?: string;
  /** Where it stands in review (a workspace export): decided by the annotator, or a model proposal still pending. */
  review?: RegionReview;
}

export type RegionReview = 'accepted' | 'edited' | 'drawn' | 'pending';
export const REGION_REVIEWS: readonly RegionReview[] = ['accepted', 'edited', 'drawn', 'pending'];
export type ImageReview = 'normal' | 'defective' | 'unreviewed';
export const IMAGE_REVIEWS: readonly ImageReview[] = ['normal', 'defective', 'unreviewed'];

export interface AnnotatedImage {
  /** The input's name as given (COCO file_name, CVAT image name, the Label Studio task's image). */
  fileName: string;
  width: number;
  height: number;
  /** Image-level score (our proposals: normalised). */
  score?: number;
  /** The annotator's verdict on the image (a workspace export); absent for the model's proposals alone. */
  status?: ImageReview;
  regions: AnnotatedRegion[];
}

/** Where the masks came from, recorded in every format that has room for it. */
export interface ExportSource {
  /** Model name or version (Label Studio model_version, COCO attributes.model). */
  model: string;
  /** The calibration the masks were thresholded with. */
  calibration: Calibration;
  /** Category name of regions without their own label; default DEFAULT_LABEL. */
  label?: string;
  /** What the mask size is, e.g. "image" or "map 256×256" under the official protocol; recorded in COCO info. */
  maskSize?: string;
}

export const DEFAULT_LABEL = 'defect';

/** A label-free region's category. */
export function regionLabel(r: AnnotatedRegion, source: ExportSource): string {
  return r.label ?? source.label ?? DEFAULT_LABEL;
}

/**
 * Throws, naming the image and region, unless every region mask has its image's size and at least one on pixel,
 * and file names are distinct (every format finds images by name).
 */
export function checkAnnotatedImages(images: readonly AnnotatedImage[], where = 'images'): void {
  const seen = new Set<string>();
  images.forEach((img, i) => {
    const at = `${where}[${i}] (${img.fileName})`;
    if (typeof img.fileName !== 'string' || img.fileName === '') throw new InputError(`${where}[${i}].fileName`, 'must be a non-empty string');
    if (seen.has(img.fileName)) throw new InputError(at, 'file name appears twice; each image must be listed once');
    seen.add(img.fileName);
    img.regions.forEach((r, k) => {
      checkMask(r.mask, `${at}.regions[${k}].mask`);
      if (r.mask.width !== img.width || r.mask.height !== img.height) {
        throw new InputError(`${at}.regions[${k}].mask`, `is ${r.mask.width}×${r.mask.height}, but the image is ${img.width}×${img.height}`);
      }
      if (!r.mask.data.includes(1)) throw new InputError(`${at}.regions[${k}].mask`, 'is empty: a region needs at least one pixel');
      if (r.score !== undefined && !Number.isFinite(r.score)) throw new InputError(`${at}.regions[${k}].score`, `must be a finite number, got ${r.score}`);
    });
  });
}

/** An image of a reader whose format may not know the size of an image with no region (Label Studio). */
export interface ImportedImage extends Omit<AnnotatedImage, 'width' | 'height'> {
  width: number | null;
  height: number | null;
}

/**
 * Matches imported images to the images at hand by file name: an unknown image or a size that differs is an error
 * naming both, so masks never land on the wrong picture. Unknown sizes are taken from the known image.
 */
export function matchImages(imported: readonly ImportedImage[], known: readonly { fileName: string; width: number; height: number }[], where: string): AnnotatedImage[] {
  const byName = new Map(known.map((k) => [k.fileName, k]));
  return imported.map((img) => {
    const k = byName.get(img.fileName);
    if (!k) throw new InputError(where, `image "${img.fileName}" is not one of the ${known.length} images given`);
    if ((img.width !== null && img.width !== k.width) || (img.height !== null && img.height !== k.height)) {
      throw new InputError(where, `image "${img.fileName}" is ${img.width}×${img.height} in the file, but ${k.width}×${k.height} here`);
    }
    return { ...img, width: k.width, height: k.height };
  });
}

/** A file name's last path part without its extension: masks/<stem>.png. Handles / and \ (browser and Windows). */
export function fileStem(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}
