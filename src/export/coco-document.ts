import { InputError } from '../errors.ts';
import { checkAnnotatedImages, DEFAULT_LABEL, IMAGE_REVIEWS, REGION_REVIEWS, regionLabel, type AnnotatedImage, type AnnotatedRegion, type ExportSource } from './annotations.ts';
import { cocoPolygonsToMask, maskToCocoPolygons } from './coco-polygon.ts';
import { cocoArea, cocoBbox, cocoCountsToString, decodeCocoRle, encodeCocoRle, type CocoRle, type CocoRleString } from './coco-rle.ts';

/** A COCO instances document as we write it (any other fields are kept by COCO tools and ignored by our reader). */
export interface CocoDocument {
  info: Record<string, unknown>;
  images: CocoImage[];
  categories: CocoCategory[];
  annotations: CocoAnnotation[];
}
export interface CocoImage { id: number; file_name: string; width: number; height: number; attributes?: { status: string } }
export interface CocoCategory { id: number; name: string; supercategory: string }
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  segmentation: CocoRleString | CocoRle | number[][];
  area: number;
  bbox: [number, number, number, number];
  iscrowd: 0;
  score?: number;
  attributes: Record<string, unknown>;
}

export interface CocoOptions {
  /** Polygons where a region has no hole (RLE where it has: COCO polygons cannot cut holes). Default RLE. */
  polygons?: boolean;
}

/**
 * One COCO document for a whole set. Every image is listed, with or without regions; one annotation per region,
 * `segmentation` a compressed RLE (pycocotools' encode) by default, `area` its pixel count and `bbox` its tight box
 * (cocoapi rleArea / rleToBbox, also for polygons, which rasterise back to the same pixels), `iscrowd: 0` so COCOeval
 * treats regions as instances, and `attributes` with the model and threshold.
 */
export function buildCocoDocument(images: readonly AnnotatedImage[], source: ExportSource, options: CocoOptions = {}): CocoDocument {
  checkAnnotatedImages(images);
  const categories: CocoCategory[] = [];
  const categoryId = (name: string): number => {
    let c = categories.find((k) => k.name === name);
    if (!c) categories.push(c = { id: categories.length + 1, name, supercategory: 'anomaly' });
    return c.id;
  };
  // The set's category is listed even when no image has a region.
  categoryId(source.label ?? DEFAULT_LABEL);
  const cal = source.calibration;
  const annotations: CocoAnnotation[] = [];
  images.forEach((img, i) => {
    for (const r of img.regions) {
      const rle = encodeCocoRle(r.mask);
      const polygons = options.polygons ? maskToCocoPolygons(r.mask) : null;
      annotations.push({
        id: annotations.length + 1,
        image_id: i + 1,
        category_id: categoryId(regionLabel(r, source)),
        segmentation: polygons ?? { size: rle.size, counts: cocoCountsToString(rle.counts) },
        area: cocoArea(rle),
        bbox: cocoBbox(rle),
        iscrowd: 0,
        ...(r.score !== undefined ? { score: r.score } : {}),
        attributes: {
          model: source.model, threshold: cal.pixelThreshold, threshold_method: cal.method,
          ...(r.maxScore !== undefined ? { max_score: r.maxScore } : {}),
          ...(r.meanScore !== undefined ? { mean_score: r.meanScore } : {}),
          ...(r.review ? { review: r.review } : {}),
        },
      });
    }
  });
  return {
    info: {
      description: 'anomaly proposals (inp-former-annotate)', model: source.model, calibration: cal,
      ...(source.maskSize ? { mask_size: source.maskSize } : {}),
    },
    images: images.map((img, i) => ({ id: i + 1, file_name: img.fileName, width: img.width, height: img.height, ...(img.status ? { attributes: { status: img.status } } : {}) })),
    categories,
    annotations,
  };
}

/**
 * Reads a COCO instances document back to images and region masks (RLE with counts or string, or polygons through
 * cocoapi's rasteriser). `where` names the file; errors name the field (annotations[3].image_id, …).
 */
export function parseCocoDocument(text: string, where: string): AnnotatedImage[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputError(where, `is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) throw new InputError(where, 'must be a COCO object with images, categories and annotations');
  for (const k of ['images', 'annotations'] as const) {
    if (!Array.isArray(doc[k])) throw new InputError(`${where}: ${k}`, `must be a list, got ${typeof doc[k]}`);
  }
  const categories = new Map<number, string>();
  if (doc.categories !== undefined) {
    if (!Array.isArray(doc.categories)) throw new InputError(`${where}: categories`, 'must be a list');
    doc.categories.forEach((c: unknown, i: number) => {
      if (!isObject(c) || !Number.isInteger(c.id) || typeof c.name !== 'string') throw new InputError(`${where}: categories[${i}]`, 'needs an integer id and a name');
      categories.set(c.id as number, c.name);
    });
  }
  const images: AnnotatedImage[] = [];
  const byId = new Map<number, AnnotatedImage>();
  (doc.images as unknown[]).forEach((im, i) => {
    const at = `${where}: images[${i}]`;
    if (!isObject(im)) throw new InputError(at, 'must be an object');
    if (!Number.isInteger(im.id)) throw new InputError(`${at}.id`, `must be an integer, got ${JSON.stringify(im.id)}`);
    if (byId.has(im.id as number)) throw new InputError(`${at}.id`, `${im.id} is used twice`);
    if (typeof im.file_name !== 'string') throw new InputError(`${at}.file_name`, 'must be a string');
    for (const k of ['width', 'height'] as const) {
      if (!Number.isSafeInteger(im[k]) || (im[k] as number) < 1) throw new InputError(`${at}.${k}`, `must be a positive integer, got ${JSON.stringify(im[k])}`);
    }
    const img: AnnotatedImage = { fileName: im.file_name, width: im.width as number, height: im.height as number, regions: [] };
    const status = isObject(im.attributes) ? im.attributes.status : undefined;
    if (status !== undefined) {
      if (!IMAGE_REVIEWS.includes(status)) throw new InputError(`${at}.attributes.status`, `must be one of ${IMAGE_REVIEWS.join(', ')}, got ${JSON.stringify(status)}`);
      img.status = status;
    }
    images.push(img);
    byId.set(im.id as number, img);
  });
  (doc.annotations as unknown[]).forEach((a, i) => {
    const at = `${where}: annotations[${i}]`;
    if (!isObject(a)) throw new InputError(at, 'must be an object');
    const img = byId.get(a.image_id as number);
    if (!img) throw new InputError(`${at}.image_id`, `${JSON.stringify(a.image_id)} is not the id of an image in this file`);
    if (a.score !== undefined && typeof a.score !== 'number') throw new InputError(`${at}.score`, `must be a number, got ${JSON.stringify(a.score)}`);
    const label = categories.get(a.category_id as number);
    if (categories.size && label === undefined) throw new InputError(`${at}.category_id`, `${JSON.stringify(a.category_id)} is not a category in this file`);
    const region: AnnotatedRegion = { mask: segmentationMask(a.segmentation, img, `${at}.segmentation`) };
    if (a.score !== undefined) region.score = a.score as number;
    if (label !== undefined) region.label = label;
    const attrs = isObject(a.attributes) ? a.attributes : {};
    if (typeof attrs.max_score === 'number') region.maxScore = attrs.max_score;
    if (typeof attrs.mean_score === 'number') region.meanScore = attrs.mean_score;
    if (attrs.review !== undefined) {
      if (!REGION_REVIEWS.includes(attrs.review)) throw new InputError(`${at}.attributes.review`, `must be one of ${REGION_REVIEWS.join(', ')}, got ${JSON.stringify(attrs.review)}`);
      region.review = attrs.review;
    }
    img.regions.push(region);
  });
  return images;
}

function segmentationMask(seg: unknown, img: AnnotatedImage, where: string) {
  if (Array.isArray(seg)) return cocoPolygonsToMask(seg as number[][], img.height, img.width, where);
  if (!isObject(seg)) throw new InputError(where, 'must be an RLE {size, counts} or a list of polygons');
  const size = seg.size as unknown;
  if (!Array.isArray(size) || size[0] !== img.height || size[1] !== img.width) {
    throw new InputError(`${where}.size`, `is ${JSON.stringify(size)}, but image "${img.fileName}" is [${img.height}, ${img.width}] (height, width)`);
  }
  return decodeCocoRle(seg as unknown as CocoRle | CocoRleString, where);
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
