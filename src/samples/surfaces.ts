import { seededRandom } from '../inp-former/init.ts';
import type { DefectKind, RgbImage, SurfaceKind } from '../types.ts';

export type { DefectKind, SurfaceKind };

/**
 * Procedural industrial surfaces with synthetic defects and their true masks: the built-in sample set of the demo
 * and the tests (never MVTec files). Everything is a pure function of (kind, defect, seed, size).
 */
export const SURFACE_KINDS: readonly SurfaceKind[] = ['brushed-metal', 'fabric', 'circuit', 'turned-part'];
export const DEFECT_KINDS: readonly DefectKind[] = ['scratch', 'hole', 'stain', 'crack'];

export interface Sample {
  name: string;
  surface: SurfaceKind;
  /** null for a normal sample. */
  defect: DefectKind | null;
  image: RgbImage;
  /** 0/1 per pixel, all zero for a normal sample. */
  mask: Uint8Array;
}

type Rand = () => number;
const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** Smooth value noise in [0, 1) on a `cell`-pixel lattice, for low-frequency shading. */
function valueNoise(rand: Rand, w: number, h: number, cell: number): Float32Array {
  const gw = Math.ceil(w / cell) + 2;
  const gh = Math.ceil(h / cell) + 2;
  const g = Float32Array.from({ length: gw * gh }, rand);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const fy = y / cell; const y0 = Math.floor(fy); const ty = fy - y0; const sy = ty * ty * (3 - 2 * ty);
    for (let x = 0; x < w; x++) {
      const fx = x / cell; const x0 = Math.floor(fx); const tx = fx - x0; const sx = tx * tx * (3 - 2 * tx);
      const a = g[y0 * gw + x0]; const b = g[y0 * gw + x0 + 1]; const c = g[(y0 + 1) * gw + x0]; const d = g[(y0 + 1) * gw + x0 + 1];
      out[y * w + x] = (a + (b - a) * sx) * (1 - sy) + (c + (d - c) * sx) * sy;
    }
  }
  return out;
}

/** Per-pixel RGB of a defect-free surface. Variation comes from the seed so every normal sample differs. */
function surface(kind: SurfaceKind, rand: Rand, S: number): Float32Array {
  const rgb = new Float32Array(S * S * 3);
  const shade = valueNoise(rand, S, S, S / 4);
  const set = (i: number, r: number, g: number, b: number) => { rgb[i * 3] = r; rgb[i * 3 + 1] = g; rgb[i * 3 + 2] = b; };
  if (kind === 'brushed-metal') {
    // Horizontal streaks: per-row noise stretched along x.
    const rows = Float32Array.from({ length: S }, () => rand());
    const streak = valueNoise(rand, S, S, 3);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      const i = y * S + x;
      const v = 150 + 30 * rows[y] + 18 * streak[Math.floor(y) * S + Math.floor(x / 8)] + 25 * shade[i];
      set(i, v, v + 3, v + 8);
    }
  } else if (kind === 'fabric') {
    const period = 6 + Math.floor(rand() * 2);
    const phase = rand() * period;
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      const i = y * S + x;
      const over = (Math.floor((x + phase) / period) + Math.floor(y / period)) % 2 === 0;
      const thread = over ? Math.sin((Math.PI * ((y % period) + 0.5)) / period) : Math.sin((Math.PI * (((x + phase) % period) + 0.5)) / period);
      const v = 70 + 90 * thread + 20 * shade[i] + 8 * rand();
      set(i, v * 0.55, v * 0.6, v * 0.95);
    }
  } else if (kind === 'circuit') {
    const pitch = Math.max(8, Math.round(S / 12));
    const off = Math.floor(rand() * pitch);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      const i = y * S + x;
      const tx = (x + off) % pitch; const ty = (y + off) % pitch;
      const trace = tx < 3 || ty < 2;
      const pad = tx > pitch / 2 - 3 && tx < pitch / 2 + 3 && ty > pitch / 2 - 3 && ty < pitch / 2 + 3;
      const n = 10 * shade[i] + 6 * rand();
      if (pad) set(i, 205 + n, 170 + n, 80 + n);
      else if (trace) set(i, 60 + n, 150 + n, 70 + n);
      else set(i, 25 + n, 90 + n, 45 + n);
    }
  } else {
    // A turned part seen end-on: concentric machining rings around a slightly jittered centre.
    const cx = S / 2 + (rand() - 0.5) * 4; const cy = S / 2 + (rand() - 0.5) * 4;
    const freq = 0.9 + rand() * 0.2;
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      const i = y * S + x;
      const r = Math.hypot(x - cx, y - cy);
      const inside = r < S * 0.46;
      const v = inside ? 140 + 35 * Math.sin(r * freq) * Math.sin(r * 0.13) + 20 * shade[i] : 30 + 15 * shade[i];
      set(i, v, v, v * 1.02);
    }
  }
  return rgb;
}

/** Paints one defect into `rgb` and marks it in `mask`. Sizes scale with the image so masks stay meaningful. */
function paintDefect(kind: DefectKind, rand: Rand, S: number, rgb: Float32Array, mask: Uint8Array): void {
  const cx = S * (0.3 + 0.4 * rand()); const cy = S * (0.3 + 0.4 * rand());
  const mark = (x: number, y: number, f: (i: number) => void) => {
    const xi = Math.round(x); const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= S || yi >= S) return;
    const i = yi * S + xi;
    mask[i] = 1;
    f(i);
  };
  if (kind === 'scratch' || kind === 'crack') {
    const len = S * (0.25 + 0.2 * rand());
    let a = rand() * Math.PI;
    let x = cx - (Math.cos(a) * len) / 2; let y = cy - (Math.sin(a) * len) / 2;
    const width = kind === 'scratch' ? Math.max(1, S / 128) : Math.max(1, S / 96);
    for (let t = 0; t < len; t += 0.5) {
      if (kind === 'crack') a += (rand() - 0.5) * 0.35;
      x += Math.cos(a) * 0.5; y += Math.sin(a) * 0.5;
      for (let dy = -width; dy <= width; dy++) for (let dx = -width; dx <= width; dx++) {
        if (dx * dx + dy * dy > width * width) continue;
        mark(x + dx, y + dy, (i) => {
          const v = kind === 'scratch' ? 235 : 15;
          rgb[i * 3] = v; rgb[i * 3 + 1] = v; rgb[i * 3 + 2] = v;
        });
      }
    }
  } else {
    const r = S * (kind === 'hole' ? 0.035 + 0.03 * rand() : 0.06 + 0.05 * rand());
    const stain = [110 + 60 * rand(), 70 + 40 * rand(), 20 + 30 * rand()];
    for (let y = Math.floor(cy - 2 * r); y <= cy + 2 * r; y++) for (let x = Math.floor(cx - 2 * r); x <= cx + 2 * r; x++) {
      const d = Math.hypot(x - cx, (y - cy) * (kind === 'stain' ? 1.3 : 1));
      const edge = kind === 'stain' ? r * (0.85 + 0.15 * Math.sin(Math.atan2(y - cy, x - cx) * 5)) : r;
      if (d > edge) continue;
      mark(x, y, (i) => {
        if (kind === 'hole') { const v = 10 + 20 * (d / r); rgb[i * 3] = v; rgb[i * 3 + 1] = v; rgb[i * 3 + 2] = v; } else {
          for (let c = 0; c < 3; c++) rgb[i * 3 + c] = 0.35 * rgb[i * 3 + c] + 0.65 * stain[c];
        }
      });
    }
  }
}

/** One sample: a `kind` surface of side `size`, with `defect` painted in (or none). */
export function makeSample(kind: SurfaceKind, defect: DefectKind | null, seed: number, size = 256): Sample {
  if (!Number.isInteger(size) || size < 32) throw new RangeError(`sample size must be an integer ≥ 32, got ${size}`);
  const rand = seededRandom(seed * 7919 + SURFACE_KINDS.indexOf(kind) * 104729 + (defect ? DEFECT_KINDS.indexOf(defect) + 1 : 0));
  const rgb = surface(kind, rand, size);
  const mask = new Uint8Array(size * size);
  if (defect) paintDefect(defect, rand, size, rgb, mask);
  return {
    name: `${kind}-${defect ?? 'good'}-${String(seed).padStart(3, '0')}`,
    surface: kind, defect,
    image: { width: size, height: size, data: Uint8Array.from(rgb, clamp) },
    mask,
  };
}

/** A sample set of one surface: `normals` normal images and `perDefect` images of each defect kind. */
export function makeSampleSet(kind: SurfaceKind, o: { normals: number; perDefect: number; size?: number; seed?: number; defects?: readonly DefectKind[] }): Sample[] {
  const base = o.seed ?? 0;
  const out: Sample[] = [];
  for (let i = 0; i < o.normals; i++) out.push(makeSample(kind, null, base + i, o.size));
  for (const d of o.defects ?? DEFECT_KINDS) for (let i = 0; i < o.perDefect; i++) out.push(makeSample(kind, d, base + 1000 + i, o.size));
  return out;
}
