import { InputError } from '../errors.ts';
import type { GrayImage } from '../image/decode.ts';
import { seededRandom } from '../inp-former/init.ts';
import type { RgbImage } from '../types.ts';

/**
 * Training images for the refinement head (INP-Former++ residual learning, DRAEM-style): pseudo-anomalies made on
 * normal images, and the annotator's real defects pasted onto normals. Pure and seeded: plain arrays in, new
 * arrays out, the same seed gives the same image and mask.
 */

/** A training image and the 0/1 mask of what was changed. */
export interface DefectSample { image: RgbImage; mask: GrayImage }

/** Share of the image a pseudo-anomaly covers: below this it vanishes on a 28×28 token grid, above it is no defect. */
const MIN_AREA = 0.003;
const MAX_AREA = 0.2;

/**
 * 2-D Perlin noise (gradient noise, quintic fade) on a W×H grid with `cells` lattice cells along the short side;
 * values in about [−1, 1]. Random unit gradients at the lattice corners.
 */
export function perlinNoise(width: number, height: number, cells: number, rand: () => number): Float32Array {
  const step = Math.min(width, height) / cells;
  const gw = Math.ceil(width / step) + 1;
  const gh = Math.ceil(height / step) + 1;
  const angles = Float32Array.from({ length: gw * gh }, () => 2 * Math.PI * rand());
  const fade = (t: number) => t * t * t * (t * (t * 6 - 15) + 10);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const fy = y / step;
    const y0 = Math.floor(fy);
    const ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = x / step;
      const x0 = Math.floor(fx);
      const tx = fx - x0;
      const dot = (cx: number, cy: number) => {
        const a = angles[(y0 + cy) * gw + x0 + cx];
        return Math.cos(a) * (tx - cx) + Math.sin(a) * (ty - cy);
      };
      const u = fade(tx);
      const top = dot(0, 0) + u * (dot(1, 0) - dot(0, 0));
      const bottom = dot(0, 1) + u * (dot(1, 1) - dot(0, 1));
      out[y * width + x] = Math.SQRT2 * (top + fade(ty) * (bottom - top));
    }
  }
  return out;
}

/**
 * A Perlin blob mask: noise at a random scale (2–16 cells), thresholded, redrawn until it covers 0.3–20 % of the
 * image, so every mask is a visible, defect-sized region inside the image.
 */
export function perlinMask(width: number, height: number, rand: () => number): GrayImage {
  for (let attempt = 0; ; attempt++) {
    const cells = 2 ** (1 + Math.floor(rand() * 4));
    const noise = perlinNoise(width, height, cells, rand);
    // A higher cut gives fewer, smaller blobs; lowered on retries so a mask is always found.
    const cut = Math.max(0.2, 0.55 - 0.05 * attempt) + 0.1 * rand();
    const data = Uint8Array.from(noise, (v) => (v > cut ? 1 : 0));
    const area = data.reduce((n, v) => n + v, 0) / data.length;
    if (area >= MIN_AREA && area <= MAX_AREA) return { width, height, data };
    if (attempt > 40) return ellipseMask(width, height, rand);
  }
}

/** Fallback when noise keeps missing the area band (tiny images): one ellipse of 3–10 % of the short side. */
function ellipseMask(width: number, height: number, rand: () => number): GrayImage {
  const data = new Uint8Array(width * height);
  const side = Math.min(width, height);
  const [cx, cy] = [width * (0.25 + 0.5 * rand()), height * (0.25 + 0.5 * rand())];
  const [ra, rb] = [side * (0.06 + 0.08 * rand()), side * (0.06 + 0.08 * rand())];
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (((x - cx) / ra) ** 2 + ((y - cy) / rb) ** 2 <= 1) data[y * width + x] = 1;
  return { width, height, data };
}

/**
 * A pseudo-anomaly on a normal image: a Perlin mask filled with texture from another normal (taken elsewhere,
 * rotated by 90°, colour-shifted), with the image's own texture moved, or with noise, blended in with opacity
 * 0.3–1 (DRAEM's β keeps some faint defects).
 */
export function pseudoAnomaly(image: RgbImage, donor: RgbImage, seed: number): DefectSample {
  const { width: W, height: H } = image;
  const rand = seededRandom(seed);
  const mask = perlinMask(W, H, rand);
  const source = rand();
  const src = source < 0.5 ? donor : image;
  const noise = source > 0.85;
  const shift = [0, 1, 2].map(() => (rand() - 0.5) * 100);
  const [ox, oy] = [Math.floor(rand() * src.width), Math.floor(rand() * src.height)];
  const rotate = rand() < 0.5;
  const opacity = 0.3 + 0.7 * rand();
  const data = Uint8Array.from(image.data);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (!mask.data[i]) continue;
      const sx = ((rotate ? y : x) + ox) % src.width;
      const sy = ((rotate ? x : y) + oy) % src.height;
      for (let c = 0; c < 3; c++) {
        const v = noise ? rand() * 255 : src.data[(sy * src.width + sx) * 3 + c] + shift[c];
        const mixed = opacity * v + (1 - opacity) * image.data[i * 3 + c];
        data[i * 3 + c] = mixed < 0 ? 0 : mixed > 255 ? 255 : Math.round(mixed);
      }
    }
  }
  return { image: { width: W, height: H, data }, mask };
}

/**
 * A real defect pasted onto a normal (INP-Former++'s semi-supervised setting): the masked pixels of `defect`,
 * optionally mirrored, moved to a random place where they fit. The defect must have the normal's size, since both
 * come from one category's camera.
 */
export function pasteDefect(normal: RgbImage, defect: DefectSample, seed: number, where = 'defect'): DefectSample {
  const { width: W, height: H } = normal;
  if (defect.image.width !== W || defect.image.height !== H || defect.mask.width !== W || defect.mask.height !== H) {
    throw new InputError(where, `is ${defect.image.width}×${defect.image.height} with a ${defect.mask.width}×${defect.mask.height} mask; the normals are ${W}×${H}`);
  }
  let [x0, y0, x1, y1] = [W, H, -1, -1];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (!defect.mask.data[y * W + x]) continue;
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
    }
  }
  if (x1 < 0) throw new InputError(where, 'mask is empty');
  const rand = seededRandom(seed);
  const [bw, bh] = [x1 - x0 + 1, y1 - y0 + 1];
  const [dx, dy] = [Math.floor(rand() * (W - bw + 1)), Math.floor(rand() * (H - bh + 1))];
  const [flipX, flipY] = [rand() < 0.5, rand() < 0.5];
  const data = Uint8Array.from(normal.data);
  const mask = new Uint8Array(W * H);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const s = (y0 + (flipY ? bh - 1 - y : y)) * W + x0 + (flipX ? bw - 1 - x : x);
      if (!defect.mask.data[s]) continue;
      const t = (dy + y) * W + dx + x;
      mask[t] = 1;
      data.set(defect.image.data.subarray(s * 3, s * 3 + 3), t * 3);
    }
  }
  return { image: { width: W, height: H, data }, mask: { width: W, height: H, data: mask } };
}
