import * as tf from '@tensorflow/tfjs';
import type { PatchEncoder } from '../encoder/patch-encoder.ts';
import { finishMap } from '../map/anomaly-map.ts';
import type { PredictOptions, PredictResult } from '../inp-former/predict.ts';
import { InputError } from '../errors.ts';
import { ENCODER_PREFIX } from '../inp-former/frozen-encoder.ts';
import { MEMORY_BANK } from '../model-folder/manifest.ts';
import type { KnnConfig, TensorMap } from '../types.ts';
import { greedyCoreset } from './coreset.ts';


/** A memory bank of normal patch features: [size, dim], row-major. */
export interface MemoryBank { data: Float32Array; size: number; dim: number }

export interface FitOptions { coresetRatio: number; seed?: number; onProgress?: (done: number, total: number) => void }

/** Collects every token of the normal images, then subsamples with the greedy coreset. */
export async function fitMemoryBank(encoder: PatchEncoder, batches: AsyncIterable<tf.Tensor4D> | Iterable<tf.Tensor4D>, o: FitOptions): Promise<MemoryBank> {
  const parts: Float32Array[] = [];
  let dim = 0;
  for await (const x of batches) {
    const { tokens } = encoder.encode(x);
    dim = tokens.shape[2];
    parts.push((await tokens.data()) as Float32Array);
    tokens.dispose();
  }
  const n = parts.reduce((a, p) => a + p.length, 0) / dim;
  if (!n) throw new InputError('normal images', 'none given: the memory bank needs at least one');
  const all = new Float32Array(n * dim);
  let off = 0;
  for (const p of parts) { all.set(p, off); off += p.length; }
  const k = Math.max(1, Math.round(n * o.coresetRatio));
  if (k >= n) return { data: all, size: n, dim };
  const idx = greedyCoreset(all, n, dim, k, o.seed ?? 0);
  const data = new Float32Array(k * dim);
  idx.forEach((r, i) => data.set(all.subarray(r * dim, (r + 1) * dim), i * dim));
  return { data, size: k, dim };
}

/** The model folder's tensors: the bank, plus the encoder's weights when they are not read from elsewhere. */
export function knnTensors(bank: MemoryBank, encoderWeights?: TensorMap): TensorMap {
  const t: TensorMap = new Map([[MEMORY_BANK, { dtype: 'F32', shape: [bank.size, bank.dim], data: bank.data }]]);
  if (encoderWeights) for (const [k, v] of encoderWeights) t.set(ENCODER_PREFIX + k, v);
  return t;
}

export function bankFromTensors(t: TensorMap, cfg: KnnConfig, where: string): MemoryBank {
  const b = t.get(MEMORY_BANK);
  if (!b || b.shape.join() !== [cfg.bankSize, cfg.dim].join()) throw new InputError(`${where}: ${MEMORY_BANK}`, `expected shape [${cfg.bankSize}, ${cfg.dim}]`);
  return { data: b.data instanceof Float32Array ? b.data : Float32Array.from(b.data as ArrayLike<number>), size: cfg.bankSize, dim: cfg.dim };
}

/**
 * The bank minus its per-channel mean, and that mean. Distances do not change under a common shift, but
 * ‖a‖² − 2a·b + ‖b‖² in float32 does: with a large common offset (all-positive CNN features) the three terms are
 * ~offset²·dim, and their rounding swamps small distances (noisy, or negative and clamped to 0). Both the tfjs path
 * and the ONNX export (src/onnx/export-knn.ts) centre the bank and the queries on this mean first; it is computed
 * from the bank at load, so model folders need not store it.
 */
export function centreBank(bank: MemoryBank): { centred: MemoryBank; mean: Float32Array } {
  const sums = new Float64Array(bank.dim);
  for (let i = 0; i < bank.data.length; i++) sums[i % bank.dim] += bank.data[i];
  const mean = Float32Array.from(sums, (s) => s / bank.size);
  const data = Float32Array.from(bank.data, (v, i) => v - mean[i % bank.dim]);
  return { centred: { data, size: bank.size, dim: bank.dim }, mean };
}

export interface KnnDetector {
  predict(x: tf.Tensor4D, opts: PredictOptions & { topRatio?: number }): Promise<PredictResult>;
  /**
   * The refinement head's input (INP-Former++ residual learning, for the kNN): per token |token − nearest bank
   * row| and the distance, [B, gh, gw, dim + 1], and the raw distance grid [B, gh, gw, 1]. Caller disposes.
   */
  residual(x: tf.Tensor4D): { features: tf.Tensor4D; coarse: tf.Tensor4D };
  /** Channels of `residual`'s features. */
  readonly residualDim: number;
  dispose(): void;
}

/**
 * Nearest-neighbour distance of every test token to the bank, through 2-D NN matMuls against the pre-transposed
 * bank in column chunks (‖a‖² + ‖b‖² − 2a·b, bank and tokens centred on the bank mean: see centreBank), so no N×M
 * matrix larger than a chunk ever exists. The distance grid then goes through the same map chain as INP-Former;
 * the image score defaults to the map's maximum (PatchCore).
 */
export function createKnnDetector(encoder: PatchEncoder, bank: MemoryBank, chunk = 8192): KnnDetector {
  const { centred, mean: bankMean } = centreBank(bank);
  const mean = tf.tensor1d(bankMean);
  const rows = tf.tensor2d(centred.data, [bank.size, bank.dim]);
  const chunks = tf.tidy(() => {
    const out: Array<{ bt: tf.Tensor2D; norms: tf.Tensor1D; start: number }> = [];
    for (let s = 0; s < bank.size; s += chunk) {
      const part = rows.slice([s, 0], [Math.min(chunk, bank.size - s), -1]);
      out.push({ bt: tf.keep(part.transpose() as tf.Tensor2D), norms: tf.keep(tf.sum(tf.square(part), 1) as tf.Tensor1D), start: s });
    }
    return out;
  });
  /** Centred tokens [N, dim], their squared nearest distance [N] and, when asked, the nearest row's index [N]. */
  const nearest = (x: tf.Tensor4D, withIndex: boolean) => {
    const { tokens, grid } = encoder.encode(x);
    const a = tf.sub(tokens.reshape([-1, bank.dim]), mean) as tf.Tensor2D;
    const an = tf.sum(tf.square(a), 1, true);
    let best: tf.Tensor | null = null;
    let index: tf.Tensor | null = null;
    for (const c of chunks) {
      const d = tf.add(tf.sub(an, tf.mul(tf.matMul(a, c.bt), 2)), c.norms);
      const m = tf.min(d, 1);
      if (withIndex) {
        const i = tf.add(tf.argMin(d, 1), tf.scalar(c.start, 'int32'));
        index = index && best ? tf.where(tf.less(m, best), i, index) : i;
      }
      best = best ? tf.minimum(best, m) : m;
    }
    return { a, squared: tf.relu(best!), index, grid };
  };
  return {
    residualDim: bank.dim + 1,
    async predict(x, opts) {
      const [B, , H, W] = x.shape;
      const mapSize: [number, number] = typeof opts.mapSize === 'number' ? [opts.mapSize, opts.mapSize] : opts.mapSize;
      const { map, score } = tf.tidy(() => {
        const { squared, grid } = nearest(x, false);
        const dist = tf.sqrt(squared).reshape([B, grid[0], grid[1], 1]) as tf.Tensor4D;
        return finishMap(dist, { inputSize: [H, W], mapSize, outputSize: opts.outputSize, topRatio: opts.topRatio ?? 0 });
      });
      const [data, scores] = await Promise.all([map.data() as Promise<Float32Array>, score.data()]);
      const [, h, w] = map.shape;
      map.dispose();
      score.dispose();
      return { maps: Array.from({ length: B }, (_, b) => data.slice(b * h * w, (b + 1) * h * w)), width: w, height: h, scores: Array.from(scores) };
    },
    residual(x) {
      return tf.tidy(() => {
        const B = x.shape[0];
        const { a, squared, index, grid } = nearest(x, true);
        const dist = tf.sqrt(squared).reshape([-1, 1]);
        const diff = tf.abs(tf.sub(a, tf.gather(rows, index!)));
        return {
          features: tf.concat([diff, dist], 1).reshape([B, grid[0], grid[1], bank.dim + 1]) as tf.Tensor4D,
          coarse: dist.reshape([B, grid[0], grid[1], 1]) as tf.Tensor4D,
        };
      });
    },
    dispose() {
      mean.dispose();
      rows.dispose();
      for (const c of chunks) { c.bt.dispose(); c.norms.dispose(); }
    },
  };
}
