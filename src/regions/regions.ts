import { InputError } from '../errors.ts';
import { checkMask, type BinaryMask } from '../image/mask.ts';
import { labelComponents } from './connected-components.ts';
import type { AnomalyMap } from '../types.ts';

/** One 8-connected region of a proposal mask, with the anomaly map's statistics over its pixels. */
export interface Region {
  /** Instance id: its value in RegionSet.instances, 1..n in raster order of the region's first pixel. */
  id: number;
  /** Pixel count (COCO area). */
  area: number;
  /** Tight box [x, y, width, height] in pixels (COCO bbox). */
  bbox: [number, number, number, number];
  /** Highest and mean raw map value over the region. */
  maxScore: number;
  meanScore: number;
}

export interface RegionSet {
  width: number;
  height: number;
  /** Row-major instance image: 0 = background, else the region's id. */
  instances: Int32Array;
  regions: Region[];
}

export interface RegionOptions {
  /** Regions with fewer pixels are dropped (default 0: keep all). */
  minArea?: number;
}

/**
 * Binary mask → its 8-connected regions (the connectivity of our metrics' AUPRO), each with area, box and map
 * score, dropping those under minArea. Surviving regions are renumbered 1..n so ids stay dense.
 */
export function findRegions(mask: BinaryMask, map: AnomalyMap, options: RegionOptions = {}): RegionSet {
  checkMask(mask);
  const { width: w, height: h } = mask;
  if (map.width !== w || map.height !== h || map.data.length !== w * h) {
    throw new InputError('map', `is ${map.width}×${map.height} (${map.data.length} values), but the mask is ${w}×${h}`);
  }
  const minArea = options.minArea ?? 0;
  if (!Number.isSafeInteger(minArea) || minArea < 0) throw new InputError('minArea', `must be a non-negative integer pixel count, got ${minArea}`);
  const { labels, count } = labelComponents(mask.data, w, h, 8);
  const area = new Float64Array(count + 1);
  const sum = new Float64Array(count + 1);
  const max = new Float64Array(count + 1).fill(-Infinity);
  const x0 = new Int32Array(count + 1).fill(w);
  const y0 = new Int32Array(count + 1).fill(h);
  const x1 = new Int32Array(count + 1).fill(-1);
  const y1 = new Int32Array(count + 1).fill(-1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const l = labels[y * w + x];
      if (!l) continue;
      const v = map.data[y * w + x];
      area[l]++;
      sum[l] += v;
      if (v > max[l]) max[l] = v;
      if (x < x0[l]) x0[l] = x;
      if (x > x1[l]) x1[l] = x;
      if (y < y0[l]) y0[l] = y;
      y1[l] = y;
    }
  }
  const newId = new Int32Array(count + 1);
  const regions: Region[] = [];
  for (let l = 1; l <= count; l++) {
    if (area[l] < minArea) continue;
    newId[l] = regions.length + 1;
    regions.push({
      id: newId[l], area: area[l], bbox: [x0[l], y0[l], x1[l] - x0[l] + 1, y1[l] - y0[l] + 1],
      maxScore: max[l], meanScore: sum[l] / area[l],
    });
  }
  const instances = new Int32Array(w * h);
  for (let i = 0; i < instances.length; i++) instances[i] = newId[labels[i]];
  return { width: w, height: h, instances, regions };
}

/**
 * One full-size mask per region of a RegionSet, in region order, filled in a single pass over the instance image
 * (a pass per region would cost pixels × regions on speckled maps).
 */
export function regionMasks(set: RegionSet): BinaryMask[] {
  const { width, height, instances, regions } = set;
  if (instances.length !== width * height) throw new InputError('instances', `has ${instances.length} values, but ${width}×${height} needs ${width * height}`);
  const index = new Map(regions.map((r, k) => [r.id, k]));
  const masks = regions.map(() => ({ width, height, data: new Uint8Array(width * height) }));
  for (let i = 0; i < instances.length; i++) {
    const k = instances[i] ? index.get(instances[i]) : undefined;
    if (k !== undefined) masks[k].data[i] = 1;
  }
  return masks;
}
