/**
 * Pillow's 8-bit BILINEAR resize, bit for bit (Resample.c): separable, horizontal pass first, a triangle filter
 * widened by the downscale factor (antialias), 22-bit fixed-point weights, and uint8 rounding between passes.
 * torchvision's Resize on PIL images calls exactly this, so the official preprocessing depends on it.
 */
export interface U8Image { width: number; height: number; channels: number; data: Uint8Array }

const PRECISION_BITS = 32 - 8 - 2;

interface Coeffs { bounds: Int32Array; weights: Int32Array; ksize: number }

function coefficients(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale; // bilinear support 1
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // C's (int) cast truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      let t = Math.abs((x + xmin - center + 0.5) * ss);
      t = t < 1 ? 1 - t : 0;
      k[x] = t;
      ww += t;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      weights[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, weights, ksize };
}

const clip8 = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : v);

function horizontal(src: U8Image, outW: number): U8Image {
  const { width, height, channels: C, data } = src;
  const { bounds, weights, ksize } = coefficients(width, outW);
  const out = new Uint8Array(outW * height * C);
  const init = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < height; y++) {
    const row = y * width * C;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2];
      const xmax = bounds[xx * 2 + 1];
      const kOff = xx * ksize;
      for (let c = 0; c < C; c++) {
        let ss = init;
        for (let x = 0; x < xmax; x++) ss += data[row + (x + xmin) * C + c] * weights[kOff + x];
        out[(y * outW + xx) * C + c] = clip8(ss >> PRECISION_BITS);
      }
    }
  }
  return { width: outW, height, channels: C, data: out };
}

function vertical(src: U8Image, outH: number): U8Image {
  const { width, height, channels: C, data } = src;
  const { bounds, weights, ksize } = coefficients(height, outH);
  const out = new Uint8Array(width * outH * C);
  const init = 1 << (PRECISION_BITS - 1);
  const stride = width * C;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2];
    const ymax = bounds[yy * 2 + 1];
    const kOff = yy * ksize;
    for (let i = 0; i < stride; i++) {
      let ss = init;
      for (let y = 0; y < ymax; y++) ss += data[(y + ymin) * stride + i] * weights[kOff + y];
      out[yy * stride + i] = clip8(ss >> PRECISION_BITS);
    }
  }
  return { width, height: outH, channels: C, data: out };
}

export function pilResize(img: U8Image, outW: number, outH: number): U8Image {
  let r = img;
  if (outW !== r.width) r = horizontal(r, outW);
  if (outH !== r.height) r = vertical(r, outH);
  return r === img ? { ...img, data: img.data.slice() } : r;
}

/** Python's round(): halves go to the even neighbour (torchvision's centre-crop offset uses it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision CenterCrop for an image at least as large as the crop. */
export function centerCrop(img: U8Image, cw: number, ch: number): U8Image {
  if (cw > img.width || ch > img.height) throw new Error(`crop ${cw}×${ch} is larger than the ${img.width}×${img.height} image`);
  const top = roundHalfEven((img.height - ch) / 2);
  const left = roundHalfEven((img.width - cw) / 2);
  const C = img.channels;
  const out = new Uint8Array(cw * ch * C);
  for (let y = 0; y < ch; y++) {
    const s = ((top + y) * img.width + left) * C;
    out.set(img.data.subarray(s, s + cw * C), y * cw * C);
  }
  return { width: cw, height: ch, channels: C, data: out };
}
