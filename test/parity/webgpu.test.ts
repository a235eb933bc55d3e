import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { inferInpFormerConfig } from '../../src/checkpoint/infer-config.ts';
import { readPth } from '../../src/checkpoint/pth.ts';
import { createInpFormer } from '../../src/inp-former/predict.ts';
import { releaseNodeWebGPU } from '../../src/platform/node/webgpu.ts';
import { useNodeBackend } from '../../src/platform/node/webgpu.ts';
import { fixture, HAS_FIXTURES, loadFixtureTensors, relMaxDiff, skipReason } from '../helpers/shared.ts';

// WebGPU in Node: Dawn (`webgpu` package) over a software Vulkan driver; .ci/run installs Debian's chromium,
// whose SwiftShader ICD is that driver (docs/runtime.md §2).
const ICD = process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json';
const HAS_VULKAN = existsSync(ICD) && ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1'].some(existsSync);
const reason = !HAS_FIXTURES ? skipReason('fixtures') : !HAS_VULKAN ? `skipped: no Vulkan loader or driver at ${ICD} (apt-get install chromium libvulkan1)` : '';

describe.skipIf(!!reason)(`INP-Former on WebGPU (Dawn + SwiftShader)${reason ? ` (${reason})` : ''}`, () => {
  afterAll(() => releaseNodeWebGPU());

  it('reproduces the inp-tiny map and score within 1e-3 of the map max', async () => {
    await useNodeBackend('webgpu');
    const file = fixture('inp-tiny', 'model.pth');
    const weights = readPth(new Uint8Array(readFileSync(file)), file);
    const model = createInpFormer(inferInpFormerConfig(weights, file), weights);
    const img = loadFixtureTensors('inp-tiny', 'input.safetensors').get('images')!;
    const fwd = loadFixtureTensors('inp-tiny', 'forward.safetensors');
    const r = await model.predict({ data: img.data as Float32Array, shape: img.shape as [number, number, number, number] }, { mapSize: 256 });
    const refMap = fwd.get('anomaly_map')!.data as Float32Array;
    const refScore = fwd.get('image_score')!.data as Float32Array;
    for (const b of [0, 1]) {
      expect(relMaxDiff(r.maps[b], refMap.subarray(b * 65536, (b + 1) * 65536))).toBeLessThan(1e-3);
      expect(Math.abs(r.scores[b] - refScore[b])).toBeLessThan(1e-3);
    }
    model.dispose();
  }, 600_000); // SwiftShader runs at ~0.3 GFLOP/s: minutes when the 2 cores are shared
});
