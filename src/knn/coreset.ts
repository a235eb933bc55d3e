import { seededRandom } from '../inp-former/init.ts';

/**
 * PatchCore's greedy coreset: project to `projDim` random dimensions (Johnson–Lindenstrauss, seeded), then
 * repeatedly take the point farthest from everything chosen so far. Returns indices into `bank` ([n, c] rows).
 * O(n·k·projDim), on the host: the bank is built once per model.
 */
export function greedyCoreset(bank: Float32Array, n: number, c: number, k: number, seed = 0, projDim = 128): Uint32Array {
  if (k >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  const rand = seededRandom(seed);
  const d = Math.min(projDim, c);
  const proj = new Float32Array(c * d);
  for (let i = 0; i < proj.length; i++) proj[i] = (Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())) / Math.sqrt(d);
  const z = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let q = 0; q < c; q++) s += bank[i * c + q] * proj[q * d + j];
      z[i * d + j] = s;
    }
  }
  const minDist = new Float64Array(n).fill(Infinity);
  const chosen = new Uint32Array(k);
  let last = Math.floor(rand() * n);
  for (let m = 0; m < k; m++) {
    chosen[m] = last;
    let best = -1;
    let arg = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) { const t = z[i * d + j] - z[last * d + j]; s += t * t; }
      if (s < minDist[i]) minDist[i] = s;
      if (minDist[i] > best) { best = minDist[i]; arg = i; }
    }
    last = arg;
  }
  return chosen;
}
