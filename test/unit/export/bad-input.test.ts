import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.ts';
import { cocoPolygonsToMask, cocoPolygonToRle, maskToRings } from '../../../src/export/coco-polygon.ts';
import { cocoArea, cocoBbox, cocoCountsToString, cocoStringToCounts, decodeCocoRle, encodeCocoRle, type CocoRle } from '../../../src/export/coco-rle.ts';
import { decodeCvatMask, encodeCvatMask } from '../../../src/export/cvat-rle.ts';
import { decodeLabelStudioRle, encodeLabelStudioRle } from '../../../src/export/labelstudio-rle.ts';
import type { BinaryMask } from '../../../src/image/mask.ts';
import { parseXml } from '../../../src/export/xml.ts';
import { maskFrom } from './masks.ts';

/** Throws an InputError whose message (which starts with the field) matches. */
function expectInputError(f: () => unknown, message: RegExp): void {
  let error: unknown;
  try { f(); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(InputError);
  expect((error as Error).message).toMatch(message);
}

describe('bad input gives errors that name the field and what is wrong', () => {
  it('masks', () => {
    const encoders = [encodeCocoRle, encodeLabelStudioRle, encodeCvatMask, maskToRings];
    for (const encode of encoders) {
      expectInputError(() => encode({ width: 2, height: 2, data: Uint8Array.from([0, 255, 0, 0]) }), /^mask\.data\[1\]: must be 0 or 1, got 255/);
      expectInputError(() => encode({ width: 3, height: 2, data: new Uint8Array(5) }), /^mask\.data: has 5 values, but a 3×2 mask has 6/);
      expectInputError(() => encode({ width: 0, height: 2, data: new Uint8Array(0) }), /^mask: image size must be positive integers, got width 0, height 2/);
      expectInputError(() => encode({ width: 2, height: 1, data: [0, 1] } as unknown as BinaryMask), /^mask\.data: must be a Uint8Array/);
    }
  });

  it('COCO RLE: counts whose sum is not h·w, negative or fractional counts, bad size', () => {
    expectInputError(() => decodeCocoRle({ size: [2, 2], counts: [1, 2] }), /^segmentation\.counts: sum to 3, but size 2×2 has 4 pixels/);
    expectInputError(() => decodeCocoRle({ size: [2, 2], counts: [1, -1, 4] }), /^segmentation\.counts\[1\]: must be a non-negative integer, got -1/);
    expectInputError(() => decodeCocoRle({ size: [2, 2], counts: [1, 1.5, 1.5] }), /^segmentation\.counts\[1\]: must be a non-negative integer, got 1\.5/);
    expectInputError(() => decodeCocoRle({ size: [2, 2], counts: '12' }), /^segmentation\.counts: sum to 3, but size 2×2 has 4 pixels/);
    expectInputError(() => decodeCocoRle({ size: [4] } as unknown as CocoRle), /^segmentation\.size: must be \[height, width\], got \[4\]/);
    expectInputError(() => decodeCocoRle({ size: [2, -1], counts: [] }), /^segmentation\.size: image size must be positive integers, got width -1, height 2/);
    expectInputError(() => decodeCocoRle({ size: [2, 2], counts: 4 } as unknown as CocoRle), /^segmentation\.counts: must be a list of run lengths or a compressed string, got number/);
    expectInputError(() => cocoArea({ size: [1, 3], counts: [4] }, 'annotations[7].segmentation'), /^annotations\[7\]\.segmentation\.counts: sum to 4/);
    expectInputError(() => cocoBbox({ size: [1, 3], counts: [1, 1] }), /^segmentation\.counts: sum to 2/);
    expectInputError(() => cocoCountsToString([3, -2]), /^counts\[1\]: must be a non-negative integer, got -2/);
  });

  it('COCO RLE: malformed compressed strings', () => {
    expectInputError(() => decodeCocoRle({ size: [2, 2], counts: '3~' }), /^segmentation\.counts: invalid character "~" at 1 in a compressed RLE string/);
    expectInputError(() => cocoStringToCounts('1 2'), /^counts: invalid character " " at 1/);
    // '\\' = 44 + 48: bit 0x20 says another group follows, but the string ends.
    expectInputError(() => decodeCocoRle({ size: [2, 2], counts: '3\\' }), /^segmentation\.counts: compressed RLE string ends in the middle of value 1/);
    // 'O' = 31 + 48 is −1: a negative first run.
    expectInputError(() => cocoStringToCounts('O'), /^counts\[0\]: compressed RLE string decodes to run length -1/);
    // A delta that takes counts[3] below zero: 1, 1, 1, then 1 + (−2).
    expectInputError(() => cocoStringToCounts('111N'), /^counts\[3\]: compressed RLE string decodes to run length -1/);
  });

  it('Label Studio RLE: wrong length for the image, truncated, not bytes, wrong word size', () => {
    const rle = encodeLabelStudioRle(maskFrom(2, 2, (x) => x === 1));
    expectInputError(() => decodeLabelStudioRle(rle, 3, 3), /^rle: decodes to 16 values, but a 3×3 RGBA image has 36/);
    expectInputError(() => decodeLabelStudioRle(rle, 3, 3, 'result[0].value.rle'), /^result\[0\]\.value\.rle: decodes to 16 values/);
    expect(decodeLabelStudioRle(rle, 2, 2).data).toEqual(Uint8Array.from([0, 1, 0, 1]));
    expectInputError(() => decodeLabelStudioRle(rle.slice(0, 8), 2, 2), /^rle: is truncated or corrupt/);
    expectInputError(() => decodeLabelStudioRle(rle.slice(0, 5), 2, 2), /^rle: has 5 bytes, too short for the 53-bit header/);
    expectInputError(() => decodeLabelStudioRle([...rle.slice(0, 3), 256, ...rle.slice(4)], 2, 2), /^rle\[3\]: must be a byte 0–255, got 256/);
    expectInputError(() => decodeLabelStudioRle([0, 0, 0, 16, 0b01111000, 0, 0, 0], 2, 2), /^rle: has 16-bit words, but Label Studio brush RLE uses 8/);
    expectInputError(() => decodeLabelStudioRle(rle, 2, 0), /^rle: image size must be positive integers/);
  });

  it('CVAT points: box outside the image, runs not covering the box, too short, negative', () => {
    expectInputError(() => decodeCvatMask([0, 1, 0, 0, 5, 0], 4, 4), /^points: box \[0, 0, 5, 0\] does not lie inside the 4×4 image/);
    expectInputError(() => decodeCvatMask([0, 1, 3, 3, 2, 3], 4, 4), /^points: box \[3, 3, 2, 3\] does not lie inside/);
    expectInputError(() => decodeCvatMask([0, 3, 0, 0, 1, 0], 4, 4), /^points: run lengths sum to 3, but the 2×1 box has 2 pixels/);
    expectInputError(() => decodeCvatMask([0, 0, 1, 1], 4, 4), /^points: needs run lengths followed by left, top, right, bottom; got 4 numbers/);
    expectInputError(() => decodeCvatMask([1, -1, 0, 0, 0, 0], 4, 4), /^points\[1\]: must be a non-negative integer, got -1/);
    expectInputError(() => decodeCvatMask([0, 1, 0, 0, 0, 0], 4.5, 4), /^points: image size must be positive integers, got width 4\.5/);
  });

  it('COCO polygons: too few points, odd length, non-finite or out-of-range coordinates', () => {
    expectInputError(() => cocoPolygonToRle([0, 0, 1, 1], 4, 4), /^segmentation\[0\]: must hold an even number \(≥ 6\) of coordinates, x and y for at least 3 points; got 4/);
    expectInputError(() => cocoPolygonsToMask([[0, 0, 2, 0, 2, 2], [0, 0, 1, 0, 1]], 4, 4), /^segmentation\[1\]: must hold an even number/);
    expectInputError(() => cocoPolygonsToMask([[0, 0, 2, NaN, 2, 2]], 4, 4), /^segmentation\[0\]\[3\]: must be a finite coordinate within ±4\.29e8, got NaN/);
    expectInputError(() => cocoPolygonToRle([0, 0, 1e9, 0, 1, 1], 4, 4), /^segmentation\[0\]\[2\]: must be a finite coordinate/);
    expectInputError(() => cocoPolygonsToMask({} as unknown as number[][], 4, 4), /^segmentation: must be a list of polygons/);
    expectInputError(() => cocoPolygonToRle([0, 0, 2, 0, 2, 2], 4, 0), /^segmentation\[0\]: image size must be positive integers/);
  });

  it('XML nested 50,000 deep is refused by the parser, naming the file and line', () => {
    expectInputError(() => parseXml(`<annotations>${'<a>'.repeat(50_000)}${'</a>'.repeat(50_000)}</annotations>`, 'deep.xml'), /^deep\.xml:1: malformed XML: elements nested deeper than 64/);
  });
});
