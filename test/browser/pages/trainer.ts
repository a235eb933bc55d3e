/**
 * Harness of test/browser/trainer-webgpu.test.ts: ?backend=webgpu&steps=3 trains fixtures/inp-tiny (fetched from
 * /fixture/, which the test serves) and leaves { backend, losses } in window.__train, or the error in __trainError.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend, type BackendName } from '../../../src/runtime/backend.ts';
import { configureWebWasm } from '../../../src/platform/web/wasm.ts';
import { FIXTURE_STEPS, trainFixtureSteps } from './fixture-training.ts';

const q = new URLSearchParams(location.search);
const out = document.getElementById('out')!;
const w = window as unknown as { __train?: unknown; __trainError?: string };

async function bytes(name: string): Promise<Uint8Array> {
  const r = await fetch(`/fixture/${name}`);
  if (!r.ok) throw new Error(`/fixture/${name}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

try {
  await configureWebWasm();
  await useBackend((q.get('backend') ?? 'webgpu') as BackendName);
  const losses = await trainFixtureSteps(await bytes('model.pth'), await bytes('input.safetensors'), Number(q.get('steps') ?? FIXTURE_STEPS));
  w.__train = { backend: tf.getBackend(), losses, tensors: tf.memory().numTensors };
  out.textContent = JSON.stringify(w.__train, null, 1);
} catch (e) {
  w.__trainError = String((e as Error)?.stack ?? e);
  out.textContent = w.__trainError;
}
