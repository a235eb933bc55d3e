/**
 * Which GPU backends this browser offers only in software (SwiftShader, llvmpipe: a machine without a GPU, or
 * flags like --enable-unsafe-webgpu). Measured on such an adapter (issue L): fitting 3 normals took 116 s against
 * about 1 s on wasm, so the default order skips them; asking for one by name still gets it.
 */
export async function softwareGpuBackends(): Promise<{ webgpu?: string; webgl?: string }> {
  const out: { webgpu?: string; webgl?: string } = {};
  try {
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<any> } }).gpu;
    const adapter = await gpu?.requestAdapter();
    if (adapter) {
      const info = adapter.info ?? {};
      const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
      if (info.isFallbackAdapter || adapter.isFallbackAdapter || /swiftshader|llvmpipe|software/i.test(name)) {
        out.webgpu = `software WebGPU adapter (${name || 'fallback'}), far slower than wasm`;
      }
    }
  } catch {
    // No adapter: tfjs's own start-up will say so.
  }
  try {
    const gl = new OffscreenCanvas(1, 1).getContext('webgl2') ?? new OffscreenCanvas(1, 1).getContext('webgl');
    const ext = gl?.getExtension('WEBGL_debug_renderer_info');
    const renderer = ext ? String(gl!.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : '';
    if (/swiftshader|llvmpipe|software/i.test(renderer)) out.webgl = `software WebGL (${renderer}), far slower than wasm`;
  } catch {
    // No WebGL in this worker: tfjs's start-up will say so.
  }
  return out;
}
