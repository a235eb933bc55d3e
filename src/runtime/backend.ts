import * as tf from '@tensorflow/tfjs';

import type { BackendName } from '../types.ts';

export type { BackendName };
export const BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgl', 'webgpu'];

/**
 * Registers a backend's kernels on first use. Imports are lazy so a page or CLI only loads what it asks for.
 * WebGPU needs a `navigator.gpu` before its module loads: browsers have one; Node gets one from
 * platform/node/backend.ts (useNodeBackend), which then calls this.
 */
async function register(name: BackendName): Promise<void> {
  if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
  } else if (name === 'webgpu') {
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  // cpu and webgl come with @tensorflow/tfjs.
}

/**
 * Switches tfjs to `name`, throwing with a clear reason when it is not available here.
 * Returns the backend actually in use.
 */
export async function useBackend(name: BackendName): Promise<BackendName> {
  if (!BACKENDS.includes(name)) throw new Error(`unknown backend "${name}"; expected one of ${BACKENDS.join(', ')}`);
  if (tf.getBackend() === name) return name;
  await register(name);
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new Error(`backend ${name} failed to initialise: ${(e as Error).message}`);
  }
  if (!ok) throw new Error(`backend ${name} is not available here`);
  await tf.ready();
  return name;
}

/** Tries backends in order (browser: webgpu, webgl, wasm) and reports the one it got and why others failed. */
export async function useFirstBackend(order: readonly BackendName[]): Promise<{ backend: BackendName; failures: string[] }> {
  const failures: string[] = [];
  for (const b of order) {
    try {
      return { backend: await useBackend(b), failures };
    } catch (e) {
      failures.push((e as Error).message);
    }
  }
  throw new Error(`no tfjs backend could start: ${failures.join('; ')}`);
}
