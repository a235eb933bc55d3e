/**
 * DINOv2's interpolate_pos_encoding, done on the host: torch bicubic (A = -0.75, align_corners=False) of the stored
 * G×G table with scale_factor = (g + offset)/G, so the source coordinate is (i + 0.5)·G/(g + offset) − 0.5 —
 * not the same as asking for size=g. The table is returned unchanged when the grid equals the stored one.
 */
const A = -0.75;
const cubic1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
const cubic2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;

/** Taps and weights of one output coordinate along an axis of length n. */
function taps(i: number, n: number, scale: number): { idx: number[]; w: number[] } {
  const src = (i + 0.5) * scale - 0.5;
  const x0 = Math.floor(src);
  const t = src - x0;
  const clamp = (j: number) => Math.min(Math.max(j, 0), n - 1);
  return {
    idx: [clamp(x0 - 1), clamp(x0), clamp(x0 + 1), clamp(x0 + 2)],
    w: [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)],
  };
}

/**
 * @param table [1 + G², C] positional table (cls row first), row-major
 * @param rows, cols output grid (rows × cols)
 * @param rowScaleGrid, colScaleGrid the patch counts that set each axis' scale factor (see resamplePosEmbed)
 */
function bicubic(table: Float32Array, G: number, C: number, rows: number, cols: number, rowFrom: number, colFrom: number, offset: number): Float32Array {
  const out = new Float32Array((1 + rows * cols) * C);
  out.set(table.subarray(0, C));
  const ry = Array.from({ length: rows }, (_, i) => taps(i, G, G / (rowFrom + offset)));
  const rx = Array.from({ length: cols }, (_, j) => taps(j, G, G / (colFrom + offset)));
  const acc = new Float64Array(C);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      acc.fill(0);
      for (let a = 0; a < 4; a++) {
        for (let b = 0; b < 4; b++) {
          const w = ry[i].w[a] * rx[j].w[b];
          const base = (1 + ry[i].idx[a] * G + rx[j].idx[b]) * C;
          for (let c = 0; c < C; c++) acc[c] += w * table[base + c];
        }
      }
      out.set(acc, (1 + i * cols + j) * C);
    }
  }
  return out;
}

/**
 * Positional table for a gh×gw patch grid. DINOv2 passes scale_factor=(sx, sy) with sx from the *width*, which
 * torch applies to the first (row) axis; it then asserts the result is w0×h0. We keep that exactly: for a
 * non-square grid the table is resampled to gw rows × gh cols and flattened in that order, as the reference does.
 */
export function resamplePosEmbed(table: Float32Array, C: number, gh: number, gw: number, offset = 0.1): Float32Array {
  const G = Math.round(Math.sqrt(table.length / C - 1));
  if (G * G + 1 !== table.length / C) throw new Error(`positional table of ${table.length / C} rows is not 1 + G²`);
  if (gh === G && gw === G) return table;
  return bicubic(table, G, C, gw, gh, gw, gh, offset);
}
