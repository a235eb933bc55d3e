import type { ResultOf, WorkerMessage, WorkerRequest } from '../pipeline/model-protocol.ts';
import type { Progress } from '../types.ts';

/** A running request: its result, and a way to cancel it (fit and training stop between steps). */
export interface Pending<T> { seq: number; result: Promise<T>; cancel(): void }

/**
 * The page's side of the model worker: one promise per request, progress callbacks, cancellation. Errors the worker
 * reports (a bad file, a backend that failed) reject with its message; a crash of the worker itself rejects every
 * open request with a message saying so, so the page can show it instead of hanging.
 */
export class ModelClient {
  private seq = 0;
  private readonly open = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; onProgress?: (p: Progress) => void }>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (ev: MessageEvent<WorkerMessage>) => {
      const m = ev.data;
      const o = this.open.get(m.seq);
      if (!o) return;
      if (m.kind === 'progress') { o.onProgress?.(m.progress); return; }
      this.open.delete(m.seq);
      if (m.kind === 'ok') o.resolve(m.value);
      else o.reject(new Error(m.message));
    };
    worker.onerror = (ev) => {
      ev.preventDefault();
      this.failAll(`the model worker crashed: ${ev.message || 'unknown error'}`);
    };
  }

  static start(): ModelClient {
    return new ModelClient(new Worker(new URL('./model-worker.ts', import.meta.url), { type: 'module' }));
  }

  request<K extends WorkerRequest['type']>(req: Extract<WorkerRequest, { type: K }>, onProgress?: (p: Progress) => void): Pending<ResultOf[K]> {
    const seq = ++this.seq;
    const result = new Promise<ResultOf[K]>((resolve, reject) => {
      this.open.set(seq, { resolve: resolve as (v: unknown) => void, reject, onProgress });
    });
    this.worker.postMessage({ seq, req });
    return { seq, result, cancel: () => { this.worker.postMessage({ seq: ++this.seq, req: { type: 'cancel', target: seq } }); } };
  }

  private failAll(message: string): void {
    for (const o of this.open.values()) o.reject(new Error(message));
    this.open.clear();
  }

  dispose(): void {
    this.failAll('the model worker was stopped');
    this.worker.terminate();
  }
}
