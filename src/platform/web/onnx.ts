// Browser only: onnxruntime-web runs an exported model (inp-former export-onnx); its wasm binary is served from
// our own bundle (Vite's ?url), never a CDN, so the page works offline.
import * as ort from 'onnxruntime-web';
import jsepWasm from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import { InputError } from '../../errors.ts';
import type { PredictInput, PredictOptions, PredictResult } from '../../inp-former/predict.ts';
import { ONNX_IO } from '../../onnx/io-names.ts';
import type { WebOnnxProvider } from '../../types.ts';

/** onnxruntime-web execution providers, in the order they are tried by default. */
export type { WebOnnxProvider };
export const WEB_ONNX_PROVIDERS: readonly WebOnnxProvider[] = ['webgpu', 'wasm'];

export interface WebOnnxModel {
  /** The execution provider the session was created with. */
  readonly provider: WebOnnxProvider;
  /** Why an earlier provider was skipped, one line each (empty when the first one worked). */
  readonly fallbacks: string[];
  /**
   * As InpFormer.predict on the exported graph: `mapSize` must be the size it was exported for, and the
   * annotate protocol's `outputSize` resize is left to the caller (the graph ends at the scoring map).
   */
  predict(input: PredictInput, opts: PredictOptions): Promise<PredictResult>;
  dispose(): Promise<void>;
}

/** The bundle's glue finds the wasm next to itself, which Vite's dependency pre-bundling breaks: point at ours. */
ort.env.wasm.wasmPaths = { wasm: jsepWasm };

/**
 * A session over an exported model's bytes: WebGPU where the browser has it, else wasm (threads only when the
 * page is cross-origin isolated; onnxruntime-web falls back to one thread by itself otherwise).
 */
export async function createWebOnnxModel(bytes: Uint8Array, o: { providers?: readonly WebOnnxProvider[]; where?: string } = {}): Promise<WebOnnxModel> {
  const where = o.where ?? 'model.onnx';
  const fallbacks: string[] = [];
  for (const provider of o.providers ?? WEB_ONNX_PROVIDERS) {
    if (provider === 'webgpu' && !('gpu' in navigator)) {
      fallbacks.push('webgpu: this browser has no navigator.gpu');
      continue;
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], graphOptimizationLevel: 'all' });
    } catch (e) {
      fallbacks.push(`${provider}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    return { provider, fallbacks, predict: (input, opts) => run(session, input, opts, where), dispose: () => session.release() };
  }
  throw new InputError(where, `onnxruntime-web could not create a session (${fallbacks.join('; ')})`);
}

async function run(session: ort.InferenceSession, input: PredictInput, opts: PredictOptions, where: string): Promise<PredictResult> {
  if (opts.head) throw new InputError('head', 'onnxruntime-web runs the exported weights; a trainer\'s head needs a tfjs backend');
  if (opts.outputSize) throw new InputError('outputSize', 'the exported graph ends at the scoring map; resize it on the caller side');
  const [mapName, scoreName] = opts.zeroShot ? [ONNX_IO.zeroShotMap, ONNX_IO.zeroShotScore] : [ONNX_IO.map, ONNX_IO.score];
  if (!session.outputNames.includes(mapName)) throw new InputError(where, `has no ${mapName} output (a kNN export has no zero-shot map)`);
  // A tfjs tensor is read back, not disposed (duck-typed: this path never loads tfjs itself).
  const { data, shape } = typeof input.data === 'function'
    ? { data: (await (input as { data(): Promise<Float32Array> }).data()), shape: input.shape }
    : (input as { data: Float32Array; shape: [number, number, number, number] });
  const out = await session.run({ [ONNX_IO.input]: new ort.Tensor('float32', data, [...shape]) }, [mapName, scoreName]);
  const map = out[mapName];
  const [B, , h, w] = map.dims;
  const want = typeof opts.mapSize === 'number' ? [opts.mapSize, opts.mapSize] : opts.mapSize;
  try {
    if (want[0] !== h || want[1] !== w) throw new InputError(where, `was exported for a ${h}×${w} map; asked for ${want[0]}×${want[1]} (export again with --map-size)`);
    const values = map.data as Float32Array;
    return {
      maps: Array.from({ length: B }, (_, i) => values.slice(i * h * w, (i + 1) * h * w)),
      width: w, height: h, scores: Array.from(out[scoreName].data as Float32Array),
    };
  } finally {
    map.dispose();
    out[scoreName].dispose();
  }
}
