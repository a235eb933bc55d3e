import { describe, expect, it } from 'vitest';
import type { BinaryMask } from '../../../src/image/mask.ts';
import { cleanMask, closeMask, dilateMask, erodeMask, fillHoles, openMask } from '../../../src/regions/morphology.ts';
import { findRegions, regionMasks } from '../../../src/regions/regions.ts';

/** A mask from rows of '#' (on) and '.' (off). */
function m(...rows: string[]): BinaryMask {
  const width = rows[0].length;
  return { width, height: rows.length, data: Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 1 : 0)) };
}
const show = (x: BinaryMask) => Array.from({ length: x.height }, (_, y) => Array.from(x.data.subarray(y * x.width, (y + 1) * x.width), (v) => (v ? '#' : '.')).join(''));
const ramp = (w: number, h: number) => ({ width: w, height: h, data: Float32Array.from({ length: w * h }, (_, i) => i) });

describe('findRegions', () => {
  const mask = m(
    '##....',
    '.#...#',
    '....#.',
    '#.....',
  );
  it('labels 8-connected regions in raster order with area, bbox, max and mean of the map', () => {
    const set = findRegions(mask, ramp(6, 4));
    // Pixel index i has score i. Region 1: (0,0)=0, (1,0)=1, (1,1)=7. Region 2: (5,1)=11, (4,2)=16 (diagonal). Region 3: (0,3)=18.
    expect(set.regions).toEqual([
      { id: 1, area: 3, bbox: [0, 0, 2, 2], maxScore: 7, meanScore: 8 / 3 },
      { id: 2, area: 2, bbox: [4, 1, 2, 2], maxScore: 16, meanScore: 13.5 },
      { id: 3, area: 1, bbox: [0, 3, 1, 1], maxScore: 18, meanScore: 18 },
    ]);
    expect(Array.from(set.instances)).toEqual([1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0]);
    expect(regionMasks(set).map(show)).toEqual([
      ['##....', '.#....', '......', '......'],
      ['......', '.....#', '....#.', '......'],
      ['......', '......', '......', '#.....'],
    ]);
  });
  it('drops regions under minArea and renumbers the rest densely', () => {
    const set = findRegions(mask, ramp(6, 4), { minArea: 2 });
    expect(set.regions.map((r) => [r.id, r.area])).toEqual([[1, 3], [2, 2]]);
    expect(set.instances[18]).toBe(0);
    expect(set.instances[16]).toBe(2);
    expect(regionMasks(set).map(show)[1]).toEqual(['......', '.....#', '....#.', '......']);
  });
  it('gives none for an empty mask and refuses a map of another size or a bad minArea', () => {
    expect(findRegions(m('...'), ramp(3, 1)).regions).toEqual([]);
    expect(() => findRegions(m('...'), ramp(1, 3))).toThrow(/map: is 1×3 \(3 values\), but the mask is 3×1/);
    expect(() => findRegions(m('...'), ramp(3, 1), { minArea: -1 })).toThrow(/minArea/);
  });
});

describe('morphology (disc)', () => {
  it('erodes and dilates a single pixel / 3×3 block with the radius-1 disc (a cross)', () => {
    expect(show(dilateMask(m('.....', '.....', '..#..', '.....', '.....'), 1))).toEqual(['.....', '..#..', '.###.', '..#..', '.....']);
    expect(show(erodeMask(m('.....', '.###.', '.###.', '.###.', '.....'), 1))).toEqual(['.....', '.....', '..#..', '.....', '.....']);
  });
  it('radius 2 disc: dx² + dy² ≤ 4', () => {
    const d = dilateMask(m('.....', '.....', '..#..', '.....', '.....'), 2);
    expect(show(d)).toEqual(['..#..', '.###.', '#####', '.###.', '..#..']);
  });
  it('opening removes specks and leaves a plus of a 3×3 block; closing fills a one-pixel hole', () => {
    expect(show(openMask(m('#....', '.....', '.###.', '.###.', '.###.', '.....'), 1))).toEqual(['.....', '.....', '..#..', '.###.', '..#..', '.....']);
    expect(show(closeMask(m('#####', '##.##', '#####'), 1))).toEqual(['#####', '#####', '#####']);
  });
  it('treats outside as on for erosion: a region on the image border keeps its border pixels', () => {
    expect(show(erodeMask(m('###.', '###.', '###.'), 1))).toEqual(['##..', '##..', '##..']);
    expect(show(openMask(m('##', '##'), 1))).toEqual(['##', '##']);
  });
  it('radius 0 is the identity', () => {
    const x = m('#.#', '.#.');
    expect(show(openMask(x, 0))).toEqual(show(x));
    expect(() => openMask(x, 1.5)).toThrow(/radius/);
  });
});

describe('fillHoles', () => {
  it('fills enclosed off regions, not those reaching the border; a diagonal gap does not open a hole', () => {
    expect(show(fillHoles(m(
      '#####.',
      '#..#..',
      '#####.',
      '......',
    )))).toEqual(['#####.', '####..', '#####.', '......']);
    // The hole at (1,1) touches the outside only diagonally (through (0,0)... corner): 4-connected background, so a hole.
    expect(show(fillHoles(m('.##', '#.#', '##.')))).toEqual(['.##', '###', '##.']);
    expect(show(fillHoles(m('#.#', '#.#', '###')))).toEqual(['#.#', '#.#', '###']);
  });
  it('cleanMask: smoothing then hole filling, each only when asked for', () => {
    const x = m('#......', '.#####.', '.#...#.', '.#####.', '.......');
    expect(show(cleanMask(x))).toEqual(show(x));
    expect(show(cleanMask(x, { fillHoles: true }))).toEqual(['#......', '.#####.', '.#####.', '.#####.', '.......']);
  });
});
