import * as tf from '@tensorflow/tfjs';

export type BackendName = 'cpu' | 'wasm' | 'webgl' | 'webgpu';
export const BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgl', 'webgpu'];

const IS_NODE = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * Registers a backend's kernels on first use. Imports are lazy so a page or CLI only loads what it asks for.
 * webgpu in Node goes through platform/node-webgpu.ts (Dawn + a software Vulkan driver).
 */
async function register(name: BackendName): Promise<void> {
  if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
  } else if (name === 'webgpu') {
    if (IS_NODE) {
      // A variable specifier keeps bundlers from pulling Node-only code into the browser build.
      const nodeWebgpu = '../platform/node-webgpu.ts';
      await (await import(/* @vite-ignore */ nodeWebgpu)).installNodeWebGPU();
    }
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
  if (!ok) {
    const hint = name === 'webgpu' && IS_NODE
      ? ' (no WebGPU adapter: install a Vulkan driver, e.g. VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)'
      : '';
    throw new Error(`backend ${name} is not available here${hint}`);
  }
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

export function defaultBackendOrder(): BackendName[] {
  return IS_NODE ? ['wasm', 'cpu'] : ['webgpu', 'webgl', 'wasm', 'cpu'];
}
