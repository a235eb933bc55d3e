import { describe, expect, it } from 'vitest';
import { cocoPolygonsToMask, cocoPolygonToRle, maskToCocoPolygons, maskToRings } from '../../../src/export/coco-polygon.ts';
import { decodeCocoRle } from '../../../src/export/coco-rle.ts';
import type { BinaryMask } from '../../../src/image/mask.ts';
import { labelComponents } from '../../../src/regions/connected-components.ts';
import { countOn, expectSameMask, maskFrom, propertyMasks } from './masks.ts';

/** Shoelace area of a flat ring; positive = clockwise on screen (image coordinates, y down). */
function signedArea(ring: number[]): number {
  let a = 0;
  for (let i = 0; i < ring.length; i += 2) {
    const j = (i + 2) % ring.length;
    a += ring[i] * ring[j + 1] - ring[j] * ring[i + 1];
  }
  return a / 2;
}

function fromRows(rows: string[]): BinaryMask {
  return maskFrom(rows[0].length, rows.length, (x, y) => rows[y][x] === '#');
}

function rasterise(ring: number[], m: BinaryMask): Uint8Array {
  return decodeCocoRle(cocoPolygonToRle(ring, m.height, m.width)).data;
}

describe('mask → COCO polygon rings (pixel-edge tracing)', () => {
  it('traces a single pixel along its edges', () => {
    const m = maskFrom(8, 6, (x, y) => x === 5 && y === 2);
    expect(maskToRings(m)).toEqual([{ exterior: [5, 2, 6, 2, 6, 3, 5, 3], holes: [] }]);
  });

  it('keeps diagonal neighbours in one region, through their shared corner twice', () => {
    expect(maskToRings(fromRows(['#.', '.#']))).toEqual([{ exterior: [0, 0, 1, 0, 1, 1, 2, 1, 2, 2, 1, 2, 1, 1, 0, 1], holes: [] }]);
    expect(maskToRings(fromRows(['.#', '#.']))).toEqual([{ exterior: [1, 0, 2, 0, 2, 1, 1, 1, 1, 2, 0, 2, 0, 1, 1, 1], holes: [] }]);
  });

  it('finds holes (4-connected off pixels enclosed by a region) and nested islands', () => {
    const donut = fromRows([
      '#######',
      '#.....#',
      '#.###.#',
      '#.#.#.#',
      '#.###.#',
      '#.....#',
      '#######',
    ]);
    const regions = maskToRings(donut);
    expect(regions).toHaveLength(2);
    expect(regions[0]).toEqual({ exterior: [0, 0, 7, 0, 7, 7, 0, 7], holes: [[1, 1, 1, 6, 6, 6, 6, 1]] });
    expect(regions[1]).toEqual({ exterior: [2, 2, 5, 2, 5, 5, 2, 5], holes: [[3, 3, 3, 4, 4, 4, 4, 3]] });
    expect(maskToCocoPolygons(donut)).toBeNull();
    // An off pixel that touches the outside only diagonally is enclosed: 8-connected on, 4-connected off.
    const diagonalGap = fromRows(['.##', '#.#', '###']);
    expect(maskToRings(diagonalGap)[0].holes).toEqual([[1, 1, 1, 2, 2, 2, 2, 1]]);
  });

  it('checkerboard: one region whose enclosed off pixels are holes', () => {
    const m = maskFrom(5, 5, (x, y) => (x + y) % 2 === 0);
    const regions = maskToRings(m);
    expect(regions).toHaveLength(1);
    expect(regions[0].holes).toHaveLength(4); // the off pixels not on the border
  });

  it('gives [] for an empty mask and one rectangle for a full one', () => {
    expect(maskToCocoPolygons(maskFrom(3, 2, () => false))).toEqual([]);
    expect(maskToCocoPolygons(maskFrom(3, 2, () => true))).toEqual([[0, 0, 3, 0, 3, 2, 0, 2]]);
  });

  describe('properties on random masks', () => {
    for (const { name, mask } of propertyMasks(77)) {
      it(name, () => {
        const regions = maskToRings(mask);
        expect(regions).toHaveLength(labelComponents(mask.data, mask.width, mask.height, 8).count);
        let area = 0;
        const xor = new Uint8Array(mask.data.length);
        for (const { exterior, holes } of regions) {
          expect(signedArea(exterior)).toBeGreaterThan(0);
          area += signedArea(exterior);
          for (const ring of [exterior, ...holes]) {
            if (ring !== exterior) {
              expect(signedArea(ring)).toBeLessThan(0);
              area += signedArea(ring);
            }
            // Integer pixel corners inside the image; axis-aligned edges; every kept vertex is a turn.
            expect(ring.every((c, i) => Number.isInteger(c) && c >= 0 && c <= (i % 2 ? mask.height : mask.width))).toBe(true);
            const n = ring.length / 2;
            for (let i = 0; i < n; i++) {
              const [ax, ay, bx, by, cx, cy] = [0, 1, 2].flatMap((k) => [ring[((i + k) % n) * 2], ring[((i + k) % n) * 2 + 1]]);
              expect((ax === bx) !== (ay === by)).toBe(true);
              expect((ax === bx) !== (bx === cx)).toBe(true);
            }
            // Even-odd over all rings (exteriors, holes, islands in holes) through cocoapi's rasteriser is the mask.
            rasterise(ring, mask).forEach((v, i) => { xor[i] ^= v; });
          }
        }
        expect(area).toBe(countOn(mask));
        expectSameMask({ ...mask, data: xor }, mask);
        const polygons = maskToCocoPolygons(mask);
        if (regions.some((r) => r.holes.length > 0)) expect(polygons).toBeNull();
        else expectSameMask(cocoPolygonsToMask(polygons!, mask.height, mask.width), mask);
      });
    }
  });
});

describe('COCO polygon → mask (cocoapi rleFrPoly)', () => {
  it('matches maskApi.c rleFrPoly on arbitrary polygons', () => {
    // Produced by cocoapi 8c9bcc3 common/maskApi.c rleFrPoly (gcc -O2, via ctypes) for random polygons: real-valued,
    // integer, half-pixel and 0.1-step vertices, partly outside the image, one with a repeated vertex. The port
    // matched the C code on 3,000 such polygons; these are a sample.
    const vectors: Array<{ h: number; w: number; xy: number[]; counts: number[] }> = [
      { h: 17, w: 3, xy: [5.492132284179492, -1.379570119720809, 5.492132284179492, -1.379570119720809, 4.8127028133736225, 7.4189721072828725, 3.7873075664064357, 3.4675235952426657, -0.5822243989601912, 15.337617437321306, -1.33850835189368, 3.676539388290448, -1.4927672338736828, 2.869970717502751, 5.567618865618888, 12.103099631346998, 2.833825241061369, 3.773333873287865, 3.3236299745590667, 8.419354087835051], counts: [5, 8, 10, 4, 14, 1, 9] },
      { h: 18, w: 8, xy: [6.696917134654774, -0.7144596179607241, 2.595880458243583, 8.880549153652293, 2.290519822452774, 1.0463418913075122, 0.2440423764311852, 16.683599939997464, 3.476061267094858, 10.918385873364237, -0.03330175337376717, 14.158441410876797, 1.621641628061691, 11.246846099664978], counts: [13, 3, 8, 5, 2, 1, 11, 2, 99] },
      { h: 3, w: 25, xy: [9, -1, 4, 4, 16, 1, 13, -1], counts: [17, 1, 2, 1, 1, 10, 1, 2, 1, 2, 1, 2, 1, 1, 32] },
      { h: 9, w: 5, xy: [3, 7, 2, 4, 6, 8, 3, 10, 6, 3, -2, -1, 5, 9], counts: [0, 2, 8, 3, 6, 3, 7, 3, 6, 7] },
      { h: 2, w: 15, xy: [6.0, 0.5, 0.5, 0.5, 7.0, 2.0], counts: [11, 1, 1, 1, 16] },
      { h: 10, w: 4, xy: [3.0, 0.5, 0.0, 10.0, 0.5, 8.0, 3.5, 8.0], counts: [15, 3, 4, 6, 9, 1, 2] },
      { h: 19, w: 8, xy: [2.7, 13.7, 5.7, 17.8, 3.4, 15.8, 5.4, 5.8, 4.7, 16.8, 6.8, 9.6, 4.7, 0.7, 1.9, 15.2], counts: [51, 1, 12, 9, 5, 8, 6, 1, 6, 10, 13, 3, 27] },
      { h: 18, w: 7, xy: [2.7, 9.9, 6.4, 15.1, 3.7, 13.8, 3.7, 1.2, 0.3, 2.4, 1.2, 9.7, 1.9, 6.0, 3.5, 4.6, 2.4, 2.1], counts: [2, 1, 17, 6, 14, 1, 14, 3, 1, 6, 19, 2, 18, 1, 21] },
    ];
    for (const { h, w, xy, counts } of vectors) expect(cocoPolygonToRle(xy, h, w)).toEqual({ size: [h, w], counts });
  });

  it('unions the polygons of a segmentation (annToRLE: frPyObjects + merge)', () => {
    const m = cocoPolygonsToMask([[0, 0, 2, 0, 2, 2, 0, 2], [1, 1, 3, 1, 3, 3, 1, 3]], 3, 3);
    expectSameMask(m, fromRows(['##.', '###', '.##']));
    expectSameMask(cocoPolygonsToMask([], 2, 2), maskFrom(2, 2, () => false));
  });

  it('the integrations.md §3.1 polygon is the 4×3 test mask', () => {
    expectSameMask(cocoPolygonsToMask([[1, 0, 3, 0, 3, 3, 2, 3, 2, 2, 1, 2]], 3, 4), fromRows(['.##.', '.##.', '..#.']));
  });
});
