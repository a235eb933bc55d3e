import type { U8Image } from './pil-resize.ts';

/** Python's round(): halves go to the even neighbour. torchvision's centre-crop offset uses it. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision CenterCrop's top-left offset along one axis: int(round((in − out) / 2)). */
export function centerCropOffset(inSize: number, outSize: number): number {
  return roundHalfEven((inSize - outSize) / 2);
}

/**
 * torchvision CenterCrop for a crop no larger than the image (torchvision would zero-pad a larger one; callers
 * validate crop ≤ resize instead, so that case is a bug here).
 */
export function centerCrop(img: U8Image, cropW: number, cropH: number): U8Image {
  const { width, height, channels: C } = img;
  if (cropW > width || cropH > height || cropW < 1 || cropH < 1) {
    throw new RangeError(`centerCrop: crop ${cropW}×${cropH} does not fit the ${width}×${height} image`);
  }
  const top = centerCropOffset(height, cropH);
  const left = centerCropOffset(width, cropW);
  const out = new Uint8Array(cropW * cropH * C);
  for (let y = 0; y < cropH; y++) {
    const s = ((top + y) * width + left) * C;
    out.set(img.data.subarray(s, s + cropW * C), y * cropW * C);
  }
  return { width: cropW, height: cropH, channels: C, data: out };
}
