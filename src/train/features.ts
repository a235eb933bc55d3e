import * as tf from '@tensorflow/tfjs';
import type { InpFormerConfig } from '../types.ts';

/** What the trainer needs from a frozen encoder (DINOv2 or a CNN token encoder): tapped token layers + grid. */
export interface FeatureEncoder {
  encode(x: tf.Tensor4D): { layers: tf.Tensor3D[]; grid: [number, number] };
}

/** The cached items of one training image (one item, or its few-shot views): per item, per layer, N × C values. */
export interface CachedFeatures { tokens: number; channels: number; items: Float32Array[][] }

/**
 * Where features outlive one run (Node: a folder, src/platform/node/feature-store.ts), keyed by the caller: the key
 * must change whenever the image, the preprocessing, the encoder or the cached layers do.
 */
export interface FeatureStore {
  get(key: string): Promise<CachedFeatures | undefined>;
  put(key: string, features: CachedFeatures): Promise<void>;
}

/**
 * Encoder features of every training image, computed once (training uses no online augmentation) and kept on
 * the host, so they do not count against the wasm heap; each batch is uploaded when it runs.
 *
 * When the encoder groups are equal-sized and cover every tap (the official [[0..3],[4..7]]), only the group
 * means E_g are kept: F_Q = mean of all taps = mean of the E_g, so the head sees the same inputs from a
 * quarter of the memory (up to float rounding, ~1e-7 relative). `headConfig` is the config to run the head with.
 */
export class FeatureCache {
  readonly headConfig: InpFormerConfig;
  private readonly items: Float32Array[][] = [];
  private tokenShape: [number, number] | undefined;
  private readonly compact: boolean;

  constructor(private readonly config: InpFormerConfig) {
    const groups = config.fuseEncoder;
    const covered = groups.flat().sort((a, b) => a - b);
    this.compact = groups.every((g) => g.length === groups[0].length)
      && covered.length === config.targetLayers.length && covered.every((v, i) => v === i);
    this.headConfig = this.compact ? { ...config, fuseEncoder: groups.map((_, i) => [i]) } : config;
  }

  get size(): number {
    return this.items.length;
  }

  /** Appends items computed earlier (a FeatureStore hit); `where` names their source in errors. */
  addCached(f: CachedFeatures, where: string): void {
    if (f.items.some((layers) => layers.length !== f.items[0].length || layers.some((l) => l.length !== f.tokens * f.channels))) {
      throw new Error(`${where}: cached features are inconsistent (delete the cache entry)`);
    }
    this.checkShape(f.tokens, f.channels, where);
    this.items.push(...f.items);
  }

  /** The items appended since `start` (for a FeatureStore). */
  itemsFrom(start: number): CachedFeatures {
    const [tokens, channels] = this.tokenShape!;
    return { tokens, channels, items: this.items.slice(start) };
  }

  private checkShape(N: number, C: number, where: string): void {
    if (this.tokenShape && (this.tokenShape[0] !== N || this.tokenShape[1] !== C)) {
      throw new Error(`${where}: ${N} tokens × ${C} channels differ from the first image's ${this.tokenShape.join(' × ')} (images must share one size)`);
    }
    this.tokenShape = [N, C];
  }

  /** Encodes a batch [n, 3, H, W] and appends its n items. */
  async add(encoder: FeatureEncoder, x: tf.Tensor4D): Promise<void> {
    const layers = tf.tidy(() => {
      const out = encoder.encode(x);
      if (!this.compact) return out.layers;
      const means = this.config.fuseEncoder.map((g) => tf.div(g.map((i) => out.layers[i]).reduce((a, b) => tf.add(a, b)), g.length) as tf.Tensor3D);
      return means;
    });
    try {
      const [n, N, C] = layers[0].shape;
      this.checkShape(N, C, `image ${this.items.length}`);
      const data = await Promise.all(layers.map((l) => l.data() as Promise<Float32Array>));
      for (let i = 0; i < n; i++) this.items.push(data.map((d) => d.slice(i * N * C, (i + 1) * N * C)));
    } finally {
      tf.dispose(layers);
    }
  }

  /** The cached layers of `indices` as host arrays, each [m, N, C] row-major (to upload, or to post to a thread). */
  arrays(indices: number[]): HostBatch {
    const [N, C] = this.tokenShape!;
    const layers = this.items[0].map((_, l) => {
      const buf = new Float32Array(indices.length * N * C);
      indices.forEach((idx, j) => buf.set(this.items[idx][l], j * N * C));
      return buf;
    });
    return { shape: [indices.length, N, C], layers };
  }

  /** The cached layers of `indices`, uploaded as [m, N, C] tensors. Caller disposes. */
  batch(indices: number[]): tf.Tensor3D[] {
    return uploadBatch(this.arrays(indices));
  }
}

/** Tapped layers of a batch on the host: every layer [m, N, C] row-major. */
export interface HostBatch { shape: [number, number, number]; layers: Float32Array[] }

export function uploadBatch(b: HostBatch): tf.Tensor3D[] {
  return b.layers.map((l) => tf.tensor3d(l, b.shape));
}
