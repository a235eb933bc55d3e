/// <reference lib="webworker" />
/**
 * The browser's model worker: a thin entry around the pipeline's model service (src/pipeline/model-service.ts),
 * so the page never freezes while the model runs. It picks the web platform's parts (nsfwjs weights served by the
 * bundle, tfjs-wasm binaries, onnxruntime-web) and carries the service's requests and answers over postMessage.
 */
import { createModelService } from '../pipeline/model-service.ts';
import type { WorkerMessage, WorkerRequest } from '../pipeline/model-protocol.ts';
import { fetchNsfwjsWeights } from '../platform/web/nsfwjs.ts';
import { softwareGpuBackends } from '../platform/web/gpu.ts';
import { configureWebWasm } from '../platform/web/wasm.ts';

declare const self: DedicatedWorkerGlobalScope;

const service = createModelService({
  nsfwjsWeights: fetchNsfwjsWeights,
  prepareBackends: configureWebWasm,
  softwareGpuBackends,
  // onnxruntime-web (30 MB of wasm) loads only when the onnx engine is chosen.
  onnx: async (bytes, o) => (await import('../platform/web/onnx.ts')).createWebOnnxModel(bytes, o),
});

function post(m: WorkerMessage, transfer: Transferable[] = []): void {
  self.postMessage(m, transfer);
}

const running = new Map<number, AbortController>();
// Requests run one at a time in arrival order (tfjs is single-threaded anyway); `cancel` jumps the queue.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (ev: MessageEvent<{ seq: number; req: WorkerRequest }>) => {
  const { seq, req } = ev.data;
  const ctrl = new AbortController();
  const run = async () => {
    running.set(seq, ctrl);
    try {
      if (req.type === 'cancel') running.get(req.target)?.abort();
      const { value, transfer } = await service.handle(req, ctrl.signal, (progress) => post({ seq, kind: 'progress', progress }));
      post({ seq, kind: 'ok', value }, transfer);
    } catch (e) {
      const err = e as Error;
      post({ seq, kind: 'error', message: err.name === 'AbortError' ? 'cancelled' : err.message });
    } finally {
      running.delete(seq);
    }
  };
  if (req.type === 'cancel') void run();
  else queue = queue.then(run);
};
