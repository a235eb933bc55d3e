import * as tf from '@tensorflow/tfjs';

/**
 * The few-shot augmentation set of spec §3 (RegAD's, used by INP-Former for K-shot training): each support
 * image becomes 22 views — itself, 8 small rotations, 8 translations, a horizontal flip, grayscale, and
 * rotations by 90°, 180°, 270° — computed once on the already-normalised tensor. Host code: it runs once per
 * image, and exact index arithmetic is easier to check than a chain of tfjs ops.
 */
export const FEW_SHOT_VIEWS = 22;

const ROTATIONS = [-4, -3, -2, -1, 1, 2, 3, 4].map((k) => (k * Math.PI) / 16);
const TRANSLATIONS: Array<[number, number]> = [
  [0.2, 0.2], [-0.2, 0.2], [-0.2, -0.2], [0.2, -0.2], [0.1, 0.1], [-0.1, 0.1], [-0.1, -0.1], [0.1, -0.1],
];

/** torch grid_sample's reflect_coordinates: mirror `x` into [lo, hi] (given doubled, as torch does). */
function reflect(x: number, twiceLo: number, twiceHi: number): number {
  if (twiceLo === twiceHi) return 0;
  const min = twiceLo / 2;
  const span = (twiceHi - twiceLo) / 2;
  const v = Math.abs(x - min);
  const extra = v % span;
  const flips = Math.floor(v / span);
  return flips % 2 === 0 ? extra + min : span - extra + min;
}

/**
 * Bilinear resampling with reflection padding, as F.grid_sample(padding_mode='reflection'): `source(x, y)`
 * gives the source pixel coordinate of output pixel (x, y). `alignCorners` picks the reflection bounds:
 * [−0.5, size−0.5] (torch's default, used with affine_grid) or [0, size−1] (kornia.rotate).
 */
function resample(
  img: Float32Array, C: number, H: number, W: number, source: (x: number, y: number) => [number, number], alignCorners: boolean,
): Float32Array {
  const out = new Float32Array(img.length);
  const fix = (v: number, n: number) => {
    const r = alignCorners ? reflect(v, 0, 2 * (n - 1)) : reflect(v, -1, 2 * n - 1);
    return Math.min(n - 1, Math.max(0, r));
  };
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const [sx0, sy0] = source(x, y);
      const sx = fix(sx0, W);
      const sy = fix(sy0, H);
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      const x1 = Math.min(x0 + 1, W - 1), y1 = Math.min(y0 + 1, H - 1);
      for (let c = 0; c < C; c++) {
        const p = img.subarray(c * H * W, (c + 1) * H * W);
        out[c * H * W + y * W + x] = (p[y0 * W + x0] * (1 - fx) + p[y0 * W + x1] * fx) * (1 - fy)
          + (p[y1 * W + x0] * (1 - fx) + p[y1 * W + x1] * fx) * fy;
      }
    }
  }
  return out;
}

/** F.affine_grid(θ) + grid_sample (align_corners=False): θ maps normalised output coords to input coords. */
function affine(img: Float32Array, C: number, H: number, W: number, t: [number, number, number, number, number, number]): Float32Array {
  return resample(img, C, H, W, (x, y) => {
    const xn = (2 * x + 1) / W - 1;
    const yn = (2 * y + 1) / H - 1;
    const sx = t[0] * xn + t[1] * yn + t[2];
    const sy = t[3] * xn + t[4] * yn + t[5];
    return [((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2];
  }, false);
}

/** kornia.geometry.rotate by `deg` degrees counter-clockwise about the image centre (align_corners=True). */
function rotateAboutCentre(img: Float32Array, C: number, H: number, W: number, deg: number): Float32Array {
  const a = (deg * Math.PI) / 180;
  // Exact quarter turns, so a 90° view of a square image is a pure permutation of pixels.
  const cos = Math.round(Math.cos(a) * 1e12) / 1e12, sin = Math.round(Math.sin(a) * 1e12) / 1e12;
  const cx = (W - 1) / 2, cy = (H - 1) / 2;
  return resample(img, C, H, W, (x, y) => [cx + cos * (x - cx) - sin * (y - cy), cy + sin * (x - cx) + cos * (y - cy)], true);
}

/** The 22 views of one normalised image [C, H, W] (flat, channel-major), in the reference's order. */
export function fewShotViewsHost(img: Float32Array, C: number, H: number, W: number): Float32Array[] {
  const views: Float32Array[] = [img.slice()];
  for (const a of ROTATIONS) views.push(affine(img, C, H, W, [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0]));
  for (const [a, b] of TRANSLATIONS) views.push(affine(img, C, H, W, [1, 0, a, 0, 1, b]));
  const flip = new Float32Array(img.length);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) flip[(c * H + y) * W + x] = img[(c * H + y) * W + W - 1 - x];
  views.push(flip);
  // kornia.color.rgb_to_grayscale on the normalised values, repeated to 3 channels.
  const gray = new Float32Array(img.length);
  const plane = H * W;
  for (let i = 0; i < plane; i++) {
    const v = 0.299 * img[i] + 0.587 * img[plane + i] + 0.114 * img[2 * plane + i];
    for (let c = 0; c < C; c++) gray[c * plane + i] = v;
  }
  views.push(gray);
  for (const k of [1, 2, 3]) views.push(rotateAboutCentre(img, C, H, W, 90 * k));
  return views;
}

/** fewShotViewsHost on a [1, 3, H, W] tensor → [22, 3, H, W]. Caller disposes. */
export async function fewShotViews(x: tf.Tensor4D): Promise<tf.Tensor4D> {
  const [n, C, H, W] = x.shape;
  if (n !== 1) throw new Error(`fewShotViews takes one image, got a batch of ${n}`);
  const views = fewShotViewsHost((await x.data()) as Float32Array, C, H, W);
  const all = new Float32Array(views.length * C * H * W);
  views.forEach((v, i) => all.set(v, i * v.length));
  return tf.tensor4d(all, [views.length, C, H, W]);
}
