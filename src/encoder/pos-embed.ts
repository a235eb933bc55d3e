/**
 * DINOv2's interpolate_pos_encoding, on the host: torch bicubic (A = −0.75, align_corners=False, no antialias) of
 * the stored G×G table with scale_factor = (g + offset)/G per axis. torch then samples at
 * src = (i + 0.5)·G/(g + offset) − 0.5 — not the coordinates that size=g would give — with border taps clamped.
 */
const A = -0.75;
const cubic1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
const cubic2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;

interface Taps { idx: Int32Array; w: Float64Array }

/** The 4 clamped source indices and cubic weights of each of `out` samples along an axis of length n. */
function axisTaps(out: number, n: number, offset: number): Taps {
  const idx = new Int32Array(out * 4);
  const w = new Float64Array(out * 4);
  const scale = n / (out + offset);
  for (let i = 0; i < out; i++) {
    const src = (i + 0.5) * scale - 0.5;
    const x0 = Math.floor(src);
    const t = src - x0;
    const ws = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
    for (let k = 0; k < 4; k++) {
      idx[i * 4 + k] = Math.min(Math.max(x0 - 1 + k, 0), n - 1);
      w[i * 4 + k] = ws[k];
    }
  }
  return { idx, w };
}

/**
 * Positional table for a gh×gw patch grid (rows × cols, the order patch tokens are flattened in).
 * DINOv2 names the input's height `w` (`B, nc, w, h = x.shape`), so its first scale factor is the row one: rows
 * come from H/patch, columns from W/patch, and non-square grids are not transposed.
 * @param table [1 + G², C] stored table (cls row first), row-major float32
 * @returns [1 + gh·gw, C]; the stored table itself when the grid is G×G (DINOv2 returns it unchanged then)
 */
export function resamplePosEmbed(table: Float32Array, C: number, gh: number, gw: number, offset = 0.1): Float32Array {
  const rowsIn = table.length / C - 1;
  const G = Math.round(Math.sqrt(rowsIn));
  if (!Number.isInteger(rowsIn) || G * G !== rowsIn) throw new Error(`positional table of ${table.length / C} rows is not 1 + G²`);
  if (gh === G && gw === G) return table;
  const ty = axisTaps(gh, G, offset);
  const tx = axisTaps(gw, G, offset);
  const out = new Float32Array((1 + gh * gw) * C);
  out.set(table.subarray(0, C));
  // Separable, columns first then rows, as torch's kernel: G·gw intermediate rows instead of 16 taps per output.
  const mid = new Float64Array(G * gw * C);
  for (let r = 0; r < G; r++) {
    for (let j = 0; j < gw; j++) {
      const o = (r * gw + j) * C;
      for (let k = 0; k < 4; k++) {
        const wk = tx.w[j * 4 + k];
        const base = (1 + r * G + tx.idx[j * 4 + k]) * C;
        for (let c = 0; c < C; c++) mid[o + c] += wk * table[base + c];
      }
    }
  }
  const acc = new Float64Array(C);
  for (let i = 0; i < gh; i++) {
    for (let j = 0; j < gw; j++) {
      acc.fill(0);
      for (let k = 0; k < 4; k++) {
        const wk = ty.w[i * 4 + k];
        const base = (ty.idx[i * 4 + k] * gw + j) * C;
        for (let c = 0; c < C; c++) acc[c] += wk * mid[base + c];
      }
      out.set(acc, (1 + i * gw + j) * C);
    }
  }
  return out;
}
