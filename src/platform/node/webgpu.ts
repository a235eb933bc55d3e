import { existsSync } from 'node:fs';
import { useBackend } from '../../runtime/backend.ts';
import type { BackendName } from '../../types.ts';

/**
 * Gives Node a `navigator.gpu` from the `webgpu` (Dawn) package. Must run before tfjs-backend-webgpu is imported,
 * because that module registers its backend only if navigator.gpu exists at import time (runtime.md §2).
 * Headless Linux boxes have no GPU: unless the user chose a Vulkan driver, use the SwiftShader ICD that Debian's
 * chromium package ships (the Vulkan loader reads VK_ICD_FILENAMES when Dawn creates its instance).
 */
export async function installNodeWebGPU(): Promise<void> {
  if ((globalThis as any).navigator?.gpu) return;
  const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!process.env.VK_ICD_FILENAMES && existsSync(swiftshader)) process.env.VK_ICD_FILENAMES = swiftshader;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const dawn: any = await import('webgpu');
  Object.assign(globalThis, dawn.globals);
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...((globalThis as any).navigator ?? {}), gpu: dawn.create([]) },
    configurable: true, writable: true,
  });
}

/** Dawn keeps Node alive while navigator.gpu exists (webgpu README); call when done with WebGPU. */
export function releaseNodeWebGPU(): void {
  const nav = (globalThis as any).navigator;
  if (nav?.gpu) delete nav.gpu;
}

/**
 * Node's way to start a tfjs backend: WebGPU gets Dawn's `navigator.gpu` first, and a failure says which driver
 * is missing.
 */
export async function useNodeBackend(name: BackendName): Promise<BackendName> {
  if (name === 'webgpu') await installNodeWebGPU();
  try {
    return await useBackend(name);
  } catch (e) {
    if (name !== 'webgpu') throw e;
    throw new Error(`${(e as Error).message} (no WebGPU adapter: install a Vulkan driver, e.g. VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)`);
  }
}
