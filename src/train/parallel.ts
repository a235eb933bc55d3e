import * as tf from '@tensorflow/tfjs';
import { useBackend, type BackendName } from '../runtime/backend.ts';
import type { InpFormerConfig, TensorMap } from '../types.ts';
import { uploadBatch, type HostBatch } from './features.ts';
import type { TrainMode } from './recipe.ts';
import type { LossTerms } from './loss.ts';
import { createTrainableHead, disposeTrainableHead, distanceSums, lossAndGradients, type Layers, type TrainableHead } from './step.ts';

/**
 * Data-parallel gradients: every thread holds a copy of the head and computes one shard of each batch. tfjs-wasm
 * runs one thread per instance (Node cannot start its pthreads, runtime.md §7), so threads with one wasm
 * instance each are how training uses more than one core. The step stays the full-batch step: a first round
 * sums the soft-mining distance δ over every shard for the batch's μ, a second computes each shard's gradients
 * with that μ, weighted by its share of the batch, and the trainer adds them up.
 */
export type GradientRequest =
  | { type: 'init'; backend: BackendName; config: InpFormerConfig; mode: TrainMode; head: TensorMap; microBatch: number }
  /** The trained tensors' current values (`h.trained` order) and this thread's shard; `sums` asks for round one. */
  | { type: 'batch'; params: Float32Array[]; shard: HostBatch; sums: boolean }
  /** μ per group (null: the shard is the whole batch, μ is its own) and the batch's image count. */
  | { type: 'grads'; mu: number[] | null; total: number };

export type GradientReply =
  | { type: 'ready' }
  | { type: 'sums'; sums: number[]; count: number }
  | { type: 'grads'; grads: Float32Array[]; terms: LossTerms<number> }
  | { type: 'error'; message: string };

/** One gradient thread as seen from the trainer (Node: a worker_thread, src/platform/node/gradient-threads.ts). */
export interface GradientChannel {
  request(msg: GradientRequest): Promise<GradientReply>;
}

/** The thread side: answers GradientRequests with its own tfjs instance. */
export class GradientShard {
  private h?: TrainableHead;
  private microBatch = 1;
  private micro: Layers[] = [];

  async handle(m: GradientRequest): Promise<GradientReply> {
    if (m.type === 'init') {
      await useBackend(m.backend);
      this.dispose();
      this.h = createTrainableHead(m.head, m.config, m.mode);
      this.microBatch = m.microBatch;
      return { type: 'ready' };
    }
    const h = this.h;
    if (!h) throw new Error(`gradient thread: "${m.type}" before "init"`);
    if (m.type === 'batch') {
      h.trained.forEach((p, i) => {
        const t = tf.tensor(m.params[i], p.tensor.shape);
        (p.tensor as tf.Variable).assign(t);
        t.dispose();
      });
      tf.dispose(this.micro.flat());
      this.micro = [];
      const [n, N, C] = m.shard.shape;
      for (let s = 0; s < n; s += this.microBatch) {
        const k = Math.min(this.microBatch, n - s);
        this.micro.push(uploadBatch({ shape: [k, N, C], layers: m.shard.layers.map((l) => l.subarray(s * N * C, (s + k) * N * C)) }));
      }
      if (!m.sums) return { type: 'ready' };
      const { sums, count } = distanceSums(h, this.micro);
      const values = Array.from(await sums.data());
      sums.dispose();
      return { type: 'sums', sums: values, count };
    }
    const mu = m.mu?.map((v) => tf.scalar(v));
    try {
      const { grads, terms } = await lossAndGradients(h, this.micro, mu && { mu, total: m.total });
      const data = await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>));
      const [loss, softMining, coherence] = await Promise.all([terms.loss, terms.softMining, terms.coherence].map(async (t) => (await t.data())[0]));
      tf.dispose([...grads, terms.loss, terms.softMining, terms.coherence]);
      return { type: 'grads', grads: data, terms: { loss, softMining, coherence } };
    } finally {
      tf.dispose([...(mu ?? []), ...this.micro.flat()]);
      this.micro = [];
    }
  }

  dispose(): void {
    tf.dispose(this.micro.flat());
    this.micro = [];
    if (this.h) disposeTrainableHead(this.h);
    this.h = undefined;
  }
}

async function ask<T extends GradientReply['type']>(ch: GradientChannel, msg: GradientRequest, want: T): Promise<Extract<GradientReply, { type: T }>> {
  const r = await ch.request(msg);
  if (r.type === 'error') throw new Error(`gradient thread: ${r.message}`);
  if (r.type !== want) throw new Error(`gradient thread answered "${r.type}" to "${msg.type}"`);
  return r as Extract<GradientReply, { type: T }>;
}

/** The trainer's side: splits each batch over the channels and adds their gradients up. */
export class ParallelGradients {
  private constructor(private readonly channels: GradientChannel[], private readonly microBatch: number) {}

  /** Gives every channel the head (official names) it trains, on the caller's backend. */
  static async start(
    channels: GradientChannel[], o: { config: InpFormerConfig; mode: TrainMode; head: TensorMap; microBatch: number },
  ): Promise<ParallelGradients> {
    if (channels.length < 1) throw new Error('parallel training needs at least one gradient thread');
    const backend = tf.getBackend() as BackendName;
    await Promise.all(channels.map((ch) => ask(ch, { type: 'init', backend, ...o }, 'ready')));
    return new ParallelGradients(channels, o.microBatch);
  }

  /**
   * The full-batch loss terms and gradients (`h.trained` order) of the items `indices`, whose features `batch`
   * gives, at the trained tensors' current values `params`. Shards are contiguous and as even as possible; a batch
   * smaller than the number of threads leaves the rest idle.
   */
  async step(params: Float32Array[], batch: (indices: number[]) => HostBatch, indices: number[]): Promise<{ grads: Float32Array[]; terms: LossTerms<number> }> {
    const n = Math.min(this.channels.length, indices.length);
    const shards = Array.from({ length: n }, (_, i) => indices.slice(Math.floor((i * indices.length) / n), Math.floor(((i + 1) * indices.length) / n)));
    // One shard in one micro-batch is the plain full-batch step: μ comes from the same pass, no first round.
    const needMu = n > 1 || indices.length > this.microBatch;
    const loaded = await Promise.all(shards.map((s, i) => ask(this.channels[i], { type: 'batch', params, shard: batch(s), sums: needMu }, needMu ? 'sums' : 'ready')));
    let mu: number[] | null = null;
    if (needMu) {
      const parts = loaded as Array<Extract<GradientReply, { type: 'sums' }>>;
      const count = parts.reduce((c, p) => c + p.count, 0);
      mu = parts[0].sums.map((_, g) => parts.reduce((s, p) => s + p.sums[g], 0) / count);
    }
    const results = await Promise.all(shards.map((_, i) => ask(this.channels[i], { type: 'grads', mu, total: indices.length }, 'grads')));
    const grads = results[0].grads.map((g, j) => {
      const sum = Float32Array.from(g);
      for (const r of results.slice(1)) {
        const o = r.grads[j];
        for (let k = 0; k < sum.length; k++) sum[k] += o[k];
      }
      return sum;
    });
    const total = (f: keyof LossTerms<number>) => results.reduce((s, r) => s + r.terms[f], 0);
    return { grads, terms: { loss: total('loss'), softMining: total('softMining'), coherence: total('coherence') } };
  }
}
