import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../inp-former/init.ts';

/**
 * PatchCore's greedy coreset: project to `projDim` random dimensions (Johnson–Lindenstrauss, seeded), then
 * repeatedly take the point farthest from everything chosen so far. Returns indices into `bank` ([n, c] rows).
 * The projection is one matMul on the tfjs backend; the k greedy passes (O(n·k·projDim)) run on the host.
 */
export function greedyCoreset(bank: Float32Array, n: number, c: number, k: number, seed = 0, projDim = 128): Uint32Array {
  if (k >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  const rand = seededRandom(seed);
  const d = Math.min(projDim, c);
  const proj = new Float32Array(c * d);
  for (let i = 0; i < proj.length; i++) proj[i] = (Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())) / Math.sqrt(d);
  // Not returned from tf.tidy: tidy walks a returned typed array element by element looking for tensors.
  const zt = tf.tidy(() => tf.matMul(tf.tensor2d(bank, [n, c]), tf.tensor2d(proj, [c, d])));
  const z = zt.dataSync() as Float32Array;
  zt.dispose();
  const minDist = new Float32Array(n).fill(Infinity);
  const chosen = new Uint32Array(k);
  let last = Math.floor(rand() * n);
  for (let m = 0; m < k; m++) {
    chosen[m] = last;
    const zl = z.subarray(last * d, last * d + d);
    let best = -1;
    let arg = 0;
    for (let i = 0, o = 0; i < n; i++, o += d) {
      let s = 0;
      for (let j = 0; j < d; j++) { const t = z[o + j] - zl[j]; s += t * t; }
      const md = s < minDist[i] ? (minDist[i] = s) : minDist[i];
      if (md > best) { best = md; arg = i; }
    }
    last = arg;
  }
  return chosen;
}
