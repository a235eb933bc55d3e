import { InputError } from '../errors.ts';
import { labelComponents } from '../regions/connected-components.ts';
import { paintCocoRuns, type CocoRle } from './coco-rle.ts';
import { checkMask, checkSize, type BinaryMask } from '../image/mask.ts';

/**
 * One 8-connected region of a mask: its outer boundary and the boundaries of its holes, each a closed ring
 * [x0, y0, x1, y1, …] (first vertex not repeated) on pixel corners — pixel (x, y) covers [x, x+1] × [y, y+1], the
 * COCO polygon convention. Rings follow the pixel edges exactly; only vertices where the direction turns are kept.
 * Where two on pixels touch only diagonally the ring passes through their shared corner twice (it touches itself).
 * In image coordinates (y down) the exterior has positive shoelace area and holes negative.
 */
export interface MaskRegionRings { exterior: number[]; holes: number[][] }

/** Directions E, S, W, N in image coordinates; a right turn is +1. */
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];
const E = 0;
const S = 1;
const W = 2;
const N = 3;

/**
 * Traces the pixel boundaries of every 8-connected region (the connectivity our metrics use; holes are then
 * 4-connected runs of off pixels). Regions come in raster order of their first pixel, holes in raster order.
 */
export function maskToRings(m: BinaryMask): MaskRegionRings[] {
  checkMask(m);
  const { width: w, height: h, data } = m;
  const on = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < w && y < h && data[y * w + x] === 1;
  // Directed boundary edges, the on pixel to the right of travel, as bits (1 << direction) of their start vertex.
  const vw = w + 1;
  const edges = new Uint8Array(vw * (h + 1));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!data[y * w + x]) continue;
      if (!on(x, y - 1)) edges[y * vw + x] |= 1 << E;
      if (!on(x + 1, y)) edges[y * vw + x + 1] |= 1 << S;
      if (!on(x, y + 1)) edges[(y + 1) * vw + x + 1] |= 1 << W;
      if (!on(x - 1, y)) edges[(y + 1) * vw + x] |= 1 << N;
    }
  }
  const { labels, count } = labelComponents(data, w, h, 8);
  const regions: MaskRegionRings[] = Array.from({ length: count }, () => ({ exterior: [], holes: [] }));
  for (let v0 = 0; v0 < edges.length; v0++) {
    // An untraced edge here belongs to a ring with no earlier vertex in raster order (else it would have been traced
    // from there). So the ring leaves v0 E (an exterior: on pixel below-right) or S (a hole: on pixel below-left),
    // never both (they need the pixel below-right on and off), turns there (a kept vertex) and visits it once.
    if (edges[v0]) {
      const x0 = v0 % vw;
      const y0 = (v0 - x0) / vw;
      const d0 = edges[v0] & (1 << E) ? E : S;
      const ring = [x0, y0];
      let x = x0;
      let y = y0;
      let d = d0;
      for (;;) {
        edges[y * vw + x] &= ~(1 << d);
        x += DX[d];
        y += DY[d];
        if (x === x0 && y === y0) break;
        const out = edges[y * vw + x];
        const left = (d + 3) & 3;
        // At a corner shared by two diagonal on pixels both ways on are open: turning left keeps them in one ring.
        const next = out & (1 << left) ? left : out & (1 << d) ? d : (d + 1) & 3;
        if (next !== d) ring.push(x, y);
        d = next;
      }
      const region = regions[labels[d0 === E ? y0 * w + x0 : y0 * w + x0 - 1] - 1];
      if (d0 === E) region.exterior = ring;
      else region.holes.push(ring);
    }
  }
  return regions;
}

/**
 * The mask as a COCO polygon `segmentation` (one exterior ring per region), or null when a region has a hole:
 * COCO unions the polygons of an annotation, so a hole cannot be expressed; export RLE then. An empty mask gives [].
 */
export function maskToCocoPolygons(m: BinaryMask): number[][] | null {
  const regions = maskToRings(m);
  return regions.some((r) => r.holes.length > 0) ? null : regions.map((r) => r.exterior);
}

/**
 * cocoapi rleFrPoly, ported operation for operation: vertices scaled ×5 and rounded, the boundary walked densely,
 * then each crossing of a pixel-centre column x + 0.5 toggles the column from the first pixel whose centre lies
 * below it (even-odd rule). For rings on pixel corners, like maskToRings', this gives exactly the enclosed pixels.
 */
export function cocoPolygonToRle(polygon: readonly number[], height: number, width: number, where = 'segmentation[0]'): CocoRle {
  checkSize(width, height, where);
  checkPolygon(polygon, where);
  const scale = 5;
  const k = polygon.length / 2;
  const px: number[] = [];
  const py: number[] = [];
  // C's (int)(v + .5) truncates toward zero.
  for (let j = 0; j < k; j++) { px.push(Math.trunc(scale * polygon[2 * j] + 0.5)); py.push(Math.trunc(scale * polygon[2 * j + 1] + 0.5)); }
  px.push(px[0]);
  py.push(py[0]);
  const u: number[] = [];
  const v: number[] = [];
  for (let j = 0; j < k; j++) {
    let xs = px[j]; let xe = px[j + 1]; let ys = py[j]; let ye = py[j + 1];
    const dx = Math.abs(xe - xs);
    const dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) { [xs, xe] = [xe, xs]; [ys, ye] = [ye, ys]; }
    // 0/0 = NaN for a repeated vertex, as in C; that point's u equals its neighbours', so it is never sampled.
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) { const t = flip ? dx - d : d; u.push(t + xs); v.push(Math.trunc(ys + s * t + 0.5)); }
    } else {
      for (let d = 0; d <= dy; d++) { const t = flip ? dy - d : d; v.push(t + ys); u.push(Math.trunc(xs + s * t + 0.5)); }
    }
  }
  const toggles: number[] = [];
  for (let j = 1; j < u.length; j++) {
    if (u[j] === u[j - 1]) continue;
    const xd = ((u[j] < u[j - 1] ? u[j] : u[j] - 1) + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > width - 1) continue;
    let yd = ((v[j] < v[j - 1] ? v[j] : v[j - 1]) + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0; else if (yd > height) yd = height;
    toggles.push(xd * height + Math.ceil(yd));
  }
  toggles.push(height * width);
  const a = Float64Array.from(toggles).sort();
  for (let j = a.length - 1; j > 0; j--) a[j] -= a[j - 1];
  // Two toggles at one place cancel: drop the empty run and fold the next one into the previous.
  const counts = [a[0]];
  for (let j = 1; j < a.length;) {
    if (a[j] > 0) counts.push(a[j++]);
    else if (++j < a.length) counts[counts.length - 1] += a[j++];
  }
  return { size: [height, width], counts };
}

/**
 * A COCO polygon `segmentation` as a mask: each polygon through rleFrPoly, then their union, as pycocotools'
 * annToRLE (frPyObjects + merge) does. An empty list gives an empty mask.
 */
export function cocoPolygonsToMask(polygons: readonly (readonly number[])[], height: number, width: number, where = 'segmentation'): BinaryMask {
  checkSize(width, height, where);
  if (!Array.isArray(polygons)) throw new InputError(where, `must be a list of polygons [x1, y1, x2, y2, …], got ${typeof polygons}`);
  const data = new Uint8Array(width * height);
  polygons.forEach((poly, i) => paintCocoRuns(cocoPolygonToRle(poly, height, width, `${where}[${i}]`).counts, height, width, data));
  return { width, height, data };
}

/**
 * At least 3 points: pycocotools would read a 4-number list as a box. Coordinates must be finite and small enough
 * for cocoapi's (int)(5·v + .5), which overflows a 32-bit int beyond about ±4.3e8.
 */
function checkPolygon(polygon: readonly number[], where: string): void {
  if (!Array.isArray(polygon)) throw new InputError(where, `must be a flat list [x1, y1, x2, y2, …], got ${typeof polygon}`);
  if (polygon.length < 6 || polygon.length % 2) {
    throw new InputError(where, `must hold an even number (≥ 6) of coordinates, x and y for at least 3 points; got ${polygon.length}`);
  }
  for (let i = 0; i < polygon.length; i++) {
    const c = polygon[i];
    if (typeof c !== 'number' || !Number.isFinite(c) || Math.abs(5 * c + 0.5) >= 2 ** 31) {
      throw new InputError(`${where}[${i}]`, `must be a finite coordinate within ±4.29e8, got ${c}`);
    }
  }
}
