import { parentPort } from 'node:worker_threads';
import { GradientShard, type GradientReply, type GradientRequest } from '../../train/parallel.ts';

/** A worker_thread's side of src/platform/node/gradient-threads.ts: one tfjs instance answering gradient requests. */
const port = parentPort;
if (!port) throw new Error('node-gradient-thread.ts runs inside a worker_thread');
const shard = new GradientShard();
let queue = Promise.resolve();
port.on('message', (m: GradientRequest) => {
  queue = queue.then(async () => {
    let r: GradientReply;
    try {
      r = await shard.handle(m);
    } catch (e) {
      r = { type: 'error', message: (e as Error).message };
    }
    // The gradients were read out for this reply only: hand their memory over instead of copying it.
    port.postMessage(r, r.type === 'grads' ? r.grads.map((g) => g.buffer as ArrayBuffer) : []);
  });
});
