import { Worker } from 'node:worker_threads';
import type { GradientChannel, GradientReply, GradientRequest } from '../../train/parallel.ts';

export interface GradientThreads {
  channels: GradientChannel[];
  /** Stops every thread; pending requests fail. */
  close(): Promise<void>;
}

/**
 * `n` worker_threads, each with its own tfjs (wasm: one more core each), for the trainer's `threads` option.
 * A thread that crashes fails its pending request with the reason instead of hanging the run.
 */
export function startGradientThreads(n: number): GradientThreads {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`gradient threads: need a positive integer, got ${n}`);
  // From the built package the thread is plain JavaScript; from a source checkout it is TypeScript, and Node's
  // workers do not inherit tsx's loader, so ts-worker.mjs registers it first.
  const built = import.meta.url.endsWith('.js');
  const entry = new URL(built ? './gradient-thread.js' : './gradient-thread.ts', import.meta.url);
  const start = () => (built ? new Worker(entry) : new Worker(new URL('./ts-worker.mjs', import.meta.url), { workerData: { entry: entry.href } }));
  const workers = Array.from({ length: n }, start);
  const channels = workers.map((w, i): GradientChannel => {
    let pending: { resolve: (r: GradientReply) => void; reject: (e: Error) => void } | undefined;
    let dead: Error | undefined;
    const fail = (e: Error) => {
      dead ??= e;
      pending?.reject(dead);
      pending = undefined;
    };
    w.on('message', (r: GradientReply) => {
      const p = pending;
      pending = undefined;
      p?.resolve(r);
    });
    w.on('error', (e: Error) => fail(new Error(`gradient thread ${i + 1} crashed: ${e.message}`)));
    w.on('exit', (code) => fail(new Error(`gradient thread ${i + 1} exited (code ${code})`)));
    return {
      request(msg: GradientRequest) {
        if (dead) return Promise.reject(dead);
        if (pending) return Promise.reject(new Error(`gradient thread ${i + 1}: a request is already in flight`));
        return new Promise((resolve, reject) => {
          pending = { resolve, reject };
          // A shard is made for this thread alone: move it rather than copy it.
          w.postMessage(msg, msg.type === 'batch' ? msg.shard.layers.map((l) => l.buffer as ArrayBuffer) : []);
        });
      },
    };
  });
  return {
    channels,
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
