import { InputError } from '../errors.ts';
import { checkMask, type BinaryMask } from '../image/mask.ts';
import type { AnomalyMap } from '../types.ts';
import { labelComponents } from './connected-components.ts';

/** Pixels sampled for the background level: a median of 2^16 evenly spaced pixels is exact enough, at any size. */
const BACKGROUND_SAMPLES = 1 << 16;

/** The map's background level: the median of (an even sample of) its values. */
export function backgroundLevel(map: AnomalyMap): number {
  const n = map.data.length;
  const step = Math.max(1, Math.floor(n / BACKGROUND_SAMPLES));
  const sample = new Float32Array(Math.ceil(n / step));
  for (let i = 0, k = 0; i < n; i += step, k++) sample[k] = map.data[i];
  sample.sort();
  return sample[sample.length >> 1];
}

/**
 * Hysteresis from the thresholded seeds to each defect's own extent. Every 8-connected region of `mask` (map >
 * threshold: the detection, unchanged) becomes the pixels connected to its peak whose score exceeds
 * background + level · (peak − background), the background being the image's median score. So a strong defect,
 * whose smoothed blob clears the threshold far beyond the defect, is cut at its half maximum (level 0.5), and a
 * weak one, of which the threshold keeps only the tip, grows to the same relative level. Regions that meet merge.
 * @param level in (0, 1): the share of the rise from background to peak a pixel must reach.
 */
export function fitRegionsToPeaks(mask: BinaryMask, map: AnomalyMap, level: number, where = 'regionLevel'): BinaryMask {
  checkMask(mask);
  if (!(Number.isFinite(level) && level > 0 && level < 1)) throw new InputError(where, `must be a number between 0 and 1 (the share of the rise from the background to a region's peak; 0.5 = half maximum), got ${level}`);
  const { width: w, height: h } = mask;
  if (map.width !== w || map.height !== h || map.data.length !== w * h) throw new InputError('map', `is ${map.width}×${map.height}, but the mask is ${w}×${h}`);
  const { labels, count } = labelComponents(mask.data, w, h, 8);
  const peakAt = new Int32Array(count + 1).fill(-1);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l && (peakAt[l] < 0 || map.data[i] > map.data[peakAt[l]])) peakAt[l] = i;
  }
  const background = backgroundLevel(map);
  const out = new Uint8Array(w * h);
  const stack = new Int32Array(w * h);
  // Strongest regions first: a weaker seed that the grown region already covers adds nothing.
  const order = Array.from({ length: count }, (_, k) => peakAt[k + 1]).sort((a, b) => map.data[b] - map.data[a]);
  for (const start of order) {
    if (out[start]) continue;
    const cut = background + level * (map.data[start] - background);
    let sp = 0;
    stack[sp++] = start;
    out[start] = 1;
    while (sp > 0) {
      const p = stack[--sp];
      const x = p % w;
      const y = (p - x) / w;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= w) continue;
          const q = ny * w + nx;
          if (!out[q] && map.data[q] > cut) { out[q] = 1; stack[sp++] = q; }
        }
      }
    }
  }
  return { width: w, height: h, data: out };
}
