/** onnxruntime-node, loaded on demand: a native addon that may be missing or fail to load on some platforms. */
export type OnnxRuntime = typeof import('onnxruntime-node');

export type OnnxRuntimeLoad = { ok: true; ort: OnnxRuntime } | { ok: false; reason: string };

let cached: Promise<OnnxRuntimeLoad> | undefined;

/**
 * Imports onnxruntime-node once. Never throws: callers decide whether to fall back (the CLI to tfjs wasm, with a
 * message) or to fail, and `reason` says why it did not load.
 */
export function loadOnnxRuntime(): Promise<OnnxRuntimeLoad> {
  cached ??= import('onnxruntime-node').then(
    (m): OnnxRuntimeLoad => {
      // CJS interop: the API sits on the default export under Node's ESM loader.
      const ort = ((m as { default?: OnnxRuntime }).default ?? m) as OnnxRuntime;
      return typeof ort.InferenceSession?.create === 'function'
        ? { ok: true, ort }
        : { ok: false, reason: 'onnxruntime-node loaded without an InferenceSession' };
    },
    (e: unknown) => ({ ok: false, reason: `onnxruntime-node cannot be loaded (${(e as Error).message.split('\n')[0]})` }),
  );
  return cached;
}
