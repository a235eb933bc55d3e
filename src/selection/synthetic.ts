import { seededRandom } from '../inp-former/init.ts';
import type { GrayImage } from '../image/decode.ts';
import type { RgbImage } from '../types.ts';

/**
 * Synthetic defects for judging detectors when the annotator has accepted no real one yet: a normal image with 1–3
 * overlapping ellipses replaced by another normal's pixels from elsewhere (rotated by 90°, colour-shifted) or by
 * noise, with the mask of what was changed. Seeded: the same images and seed give the same defects, so two
 * detectors are judged on identical images. Pure: new arrays out, inputs untouched.
 */
export function syntheticDefect(image: RgbImage, donor: RgbImage, seed: number): { image: RgbImage; mask: GrayImage } {
  const { width: W, height: H } = image;
  const rand = seededRandom(seed);
  const side = Math.min(W, H);
  const mask = new Uint8Array(W * H);
  const blobs = 1 + Math.floor(rand() * 3);
  let cx = W * (0.2 + 0.6 * rand());
  let cy = H * (0.2 + 0.6 * rand());
  for (let b = 0; b < blobs; b++) {
    // Radii 2–8 % of the short side: defect-sized, a few tokens of a 28×28 grid.
    const ra = side * (0.02 + 0.06 * rand());
    const rb = side * (0.02 + 0.06 * rand());
    const t = Math.PI * rand();
    const [c, s] = [Math.cos(t), Math.sin(t)];
    const r = Math.max(ra, rb);
    for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(H, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(W, Math.ceil(cx + r)); x++) {
        const u = ((x - cx) * c + (y - cy) * s) / ra;
        const v = (-(x - cx) * s + (y - cy) * c) / rb;
        if (u * u + v * v <= 1) mask[y * W + x] = 1;
      }
    }
    // The next blob touches this one: one irregular defect rather than scattered dots.
    cx += (rand() - 0.5) * 2 * ra;
    cy += (rand() - 0.5) * 2 * rb;
  }
  const data = Uint8Array.from(image.data);
  const noise = rand() < 0.3;
  const shift = [0, 1, 2].map(() => (rand() - 0.5) * 120);
  const ox = Math.floor(rand() * donor.width);
  const oy = Math.floor(rand() * donor.height);
  const alpha = 0.6 + 0.4 * rand();
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (!mask[i]) continue;
      // Donor pixel rotated by 90° and taken from another place (wrapping), so it is normal texture out of context.
      const dx = (ox + y) % donor.width;
      const dy = (oy + x) % donor.height;
      for (let ch = 0; ch < 3; ch++) {
        const src = noise ? rand() * 255 : donor.data[(dy * donor.width + dx) * 3 + ch] + shift[ch];
        const v = alpha * src + (1 - alpha) * image.data[i * 3 + ch];
        data[i * 3 + ch] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
      }
    }
  }
  return { image: { width: W, height: H, data }, mask: { width: W, height: H, data: mask } };
}
