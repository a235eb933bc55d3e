/**
 * Pillow's 8-bit BILINEAR resize, bit for bit (libImaging/Resample.c, as described in
 * shared/fixtures/preprocess/README.md). torchvision's Resize on PIL images calls exactly this, so the official
 * preprocessing depends on it; TF.js resizeBilinear differs (no antialias, float weights, no uint8 intermediate).
 */

/** An 8-bit image with interleaved channels, row-major. */
export interface U8Image {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** Pillow's PRECISION_BITS for 8-bit images: weights are 22-bit fixed point. */
const PRECISION_BITS = 32 - 8 - 2;

interface Coeffs {
  /** Per output index: first input index and number of taps. */
  bounds: Int32Array;
  /** Fixed-point weights, `ksize` slots per output index. */
  weights: Int32Array;
  ksize: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the triangle filter. */
function coefficients(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  // Bilinear support is 1, widened by the downscale factor: this is the antialias.
  const support = filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const ss = 1 / filterscale;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < n; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1 ? 1 - t : 0;
      ww += k[x];
    }
    for (let x = 0; x < n; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      weights[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = n;
  }
  return { bounds, weights, ksize };
}

/** Rounding bias, then the shift and clamp of Pillow's clip8. */
const HALF = 1 << (PRECISION_BITS - 1);
const clip8 = (ss: number) => {
  const v = ss >> PRECISION_BITS;
  return v <= 0 ? 0 : v >= 255 ? 255 : v;
};

function horizontal(src: U8Image, outW: number): U8Image {
  const { width, height, channels: C, data } = src;
  const { bounds, weights, ksize } = coefficients(width, outW);
  const out = new Uint8Array(outW * height * C);
  for (let y = 0; y < height; y++) {
    const row = y * width * C;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2];
      const n = bounds[xx * 2 + 1];
      const kOff = xx * ksize;
      for (let c = 0; c < C; c++) {
        let ss = HALF;
        for (let x = 0; x < n; x++) ss += data[row + (x + xmin) * C + c] * weights[kOff + x];
        out[(y * outW + xx) * C + c] = clip8(ss);
      }
    }
  }
  return { width: outW, height, channels: C, data: out };
}

function vertical(src: U8Image, outH: number): U8Image {
  const { width, height, channels: C, data } = src;
  const { bounds, weights, ksize } = coefficients(height, outH);
  const stride = width * C;
  const out = new Uint8Array(outH * stride);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2];
    const n = bounds[yy * 2 + 1];
    const kOff = yy * ksize;
    for (let i = 0; i < stride; i++) {
      let ss = HALF;
      for (let y = 0; y < n; y++) ss += data[(y + ymin) * stride + i] * weights[kOff + y];
      out[yy * stride + i] = clip8(ss);
    }
  }
  return { width, height: outH, channels: C, data: out };
}

/**
 * `img.resize((outW, outH), Image.BILINEAR)` for 8-bit images with any number of channels (L and RGB are what
 * we use). Horizontal pass first, each pass rounded and clamped to uint8; an unchanged axis is not resampled.
 * Always returns a new image.
 */
export function pilResize(img: U8Image, outW: number, outH: number): U8Image {
  const { width, height, channels, data } = img;
  if (data.length !== width * height * channels) {
    throw new RangeError(`pilResize: data has ${data.length} bytes, expected ${width}×${height}×${channels}`);
  }
  if (!Number.isInteger(outW) || !Number.isInteger(outH) || outW < 1 || outH < 1) {
    throw new RangeError(`pilResize: output size ${outW}×${outH} is not a positive integer size`);
  }
  let r = img;
  if (outW !== r.width) r = horizontal(r, outW);
  if (outH !== r.height) r = vertical(r, outH);
  return r === img ? { ...img, data: data.slice() } : r;
}
