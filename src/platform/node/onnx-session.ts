import os from 'node:os';
import { InputError } from '../../errors.ts';
import type { PredictInput, PredictOptions, PredictResult } from '../../inp-former/predict.ts';
import type { InpFormerConfig, KnnConfig, TensorMap } from '../../types.ts';
import { exportInpFormerOnnx, ONNX_IO } from '../../onnx/export-inp-former.ts';
import { exportKnnOnnx } from '../../onnx/export-knn.ts';
import type { RefineHead } from '../../refine/config.ts';
import { GraphBuilder } from '../../onnx/graph.ts';
import { resizeBilinear } from '../../onnx/ops.ts';
import { DataType, encodeModel } from '../../onnx/proto.ts';
import { loadOnnxRuntime, type OnnxRuntime } from './onnx-runtime.ts';

/**
 * The `onnx` backend of `predict` in Node: our ONNX export run by onnxruntime-node, with the same
 * `predict(input, opts) → { maps, width, height, scores }` as createInpFormer (src/inp-former/predict.ts) and the
 * kNN detector (src/knn/knn.ts).
 * The graph is exported in memory from the config and weights for each input/map size it meets, and the
 * sessions are cached (a few at most), so a batch job pays the export once.
 */

type HostBatch = Exclude<PredictInput, { dispose(): void }>;

/** A tfjs tensor is read back to the host (duck-typed: this path never loads tfjs itself). */
async function hostBatch(input: PredictInput): Promise<HostBatch> {
  if (typeof input.data !== 'function') return input as HostBatch;
  const t = input as Exclude<PredictInput, HostBatch>;
  return { data: (await t.data()) as Float32Array, shape: t.shape };
}

export interface OnnxInpFormerOptions {
  /** onnxruntime intra-op threads; default: every logical CPU (os.availableParallelism()). */
  threads?: number;
  /** Sessions kept, one per input and map size; the least recently used is released beyond this. */
  maxSessions?: number;
  /** Names the model (file or folder) in errors. */
  where?: string;
  /** A CNN encoder's weights when the model does not hold them (nsfwjs, read from its package). */
  encoderWeights?: TensorMap;
}

export interface OnnxDetector {
  /** As InpFormer.predict; a tfjs tensor input is read, not disposed. */
  predict(input: PredictInput, opts: PredictOptions): Promise<PredictResult>;
  /** Releases every onnxruntime session. */
  dispose(): Promise<void>;
}

export interface OnnxInpFormer extends OnnxDetector {
  readonly config: InpFormerConfig;
}

type Session = Awaited<ReturnType<OnnxRuntime['InferenceSession']['create']>>;

/** Map [N, 1, h, w] + int64 size [H, W] → [N, 1, H, W], half-pixel bilinear: the annotate protocol's last step. */
function outputResizeModel(): Uint8Array {
  const b = new GraphBuilder();
  b.node('Identity', [resizeBilinear(b, 'map', 'size', 'half_pixel')], {}, ['resized']);
  return encodeModel(b.build({
    name: 'resize-map',
    inputs: [{ name: 'map', type: DataType.FLOAT, dims: ['N', 1, 'h', 'w'] }, { name: 'size', type: DataType.INT64, dims: [2] }],
    outputs: [{ name: 'resized', type: DataType.FLOAT, dims: ['N', 1, 'H', 'W'] }],
  }));
}

/** An INP-Former on onnxruntime-node; throws an InputError naming the backend when it cannot load (the CLI checks first and falls back). */
export async function createOnnxInpFormer(config: InpFormerConfig, tensors: TensorMap, o: OnnxInpFormerOptions = {}, refine?: RefineHead): Promise<OnnxInpFormer> {
  const exportFor = (inputSize: [number, number], mapSize: [number, number]) =>
    exportInpFormerOnnx(config, tensors, { inputSize, mapSize, ...(o.encoderWeights ? { encoderWeights: o.encoderWeights } : {}) }, o.where, refine);
  return { config, ...(await createOnnxRunner(exportFor, true, o)) };
}

/**
 * A kNN detector (the model folder's tensors, with `memory_bank`) on onnxruntime-node; its score is the map's
 * maximum. With `refine`, the graph ends in the refinement head's map.
 */
export function createOnnxKnn(knn: KnnConfig, tensors: TensorMap, o: OnnxInpFormerOptions = {}, refine?: RefineHead): Promise<OnnxDetector> {
  return createOnnxRunner((inputSize, mapSize) =>
    exportKnnOnnx(knn, tensors, { inputSize, mapSize, ...(o.encoderWeights ? { encoderWeights: o.encoderWeights } : {}) }, o.where, refine), false, o);
}

/**
 * Sessions over `exportFor`'s graphs, one per input and map size; `zeroShot` says whether the graphs have the
 * zero-shot outputs.
 */
async function createOnnxRunner(exportFor: (inputSize: [number, number], mapSize: [number, number]) => Uint8Array, zeroShot: boolean, o: OnnxInpFormerOptions): Promise<OnnxDetector> {
  const loaded = await loadOnnxRuntime();
  if (!loaded.ok) throw new InputError('backend onnx', loaded.reason);
  const ort = loaded.ort;
  const maxSessions = o.maxSessions ?? 2;
  // onnxruntime's own default is the physical core count, which is 1 on 2-vCPU machines like CI's: bench:speed here
  // gave 2.05–2.13× the official export's time with it and 0.96–1.09× with every logical CPU.
  const sessionOptions = { graphOptimizationLevel: 'all' as const, intraOpNumThreads: o.threads ?? os.availableParallelism() };
  const sessions = new Map<string, Promise<Session>>();
  let resizer: Promise<Session> | undefined;

  async function sessionFor(inputSize: [number, number], mapSize: [number, number]): Promise<Session> {
    const key = `${inputSize}:${mapSize}`;
    let s = sessions.get(key);
    if (s) {
      sessions.delete(key); // re-inserted below: the Map's order is the recency order
    } else {
      s = Promise.resolve().then(() => ort.InferenceSession.create(exportFor(inputSize, mapSize), sessionOptions));
      s.catch(() => sessions.delete(key));
    }
    sessions.set(key, s);
    while (sessions.size > maxSessions) {
      const [oldest, old] = sessions.entries().next().value!;
      sessions.delete(oldest);
      void old.then((x) => x.release(), () => undefined);
    }
    return s;
  }

  return {
    async predict(input, opts) {
      if (opts.zeroShot && !zeroShot) throw new InputError('zeroShot', 'a kNN model has no zero-shot map (it is the INP coherence map of an INP-Former)');
      if (opts.head) throw new InputError('head', 'the onnx backend runs the exported weights; a trainer\'s head needs a tfjs backend');
      const { data, shape } = await hostBatch(input);
      const [B, ch, H, W] = shape;
      if (shape.length !== 4 || ch !== 3 || data.length !== B * 3 * H * W) {
        throw new InputError('input', `expected a [N, 3, H, W] float32 batch, got shape [${shape}] with ${data.length} values`);
      }
      const mapSize: [number, number] = typeof opts.mapSize === 'number' ? [opts.mapSize, opts.mapSize] : opts.mapSize;
      const session = await sessionFor([H, W], mapSize);
      const [mapName, scoreName] = opts.zeroShot ? [ONNX_IO.zeroShotMap, ONNX_IO.zeroShotScore] : [ONNX_IO.map, ONNX_IO.score];
      const out = await session.run({ [ONNX_IO.input]: new ort.Tensor('float32', data, [B, 3, H, W]) }, [mapName, scoreName]);
      let map = out[mapName];
      let [h, w] = mapSize;
      if (opts.outputSize) {
        resizer ??= ort.InferenceSession.create(outputResizeModel(), sessionOptions);
        [h, w] = opts.outputSize;
        const size = new ort.Tensor('int64', BigInt64Array.from([h, w], BigInt), [2]);
        map = (await (await resizer).run({ map, size })).resized;
      }
      const values = map.data as Float32Array;
      return {
        maps: Array.from({ length: B }, (_, i) => values.slice(i * h * w, (i + 1) * h * w)),
        width: w, height: h, scores: Array.from(out[scoreName].data as Float32Array),
      };
    },
    async dispose() {
      const all = [...sessions.values(), ...(resizer ? [resizer] : [])];
      sessions.clear();
      resizer = undefined;
      await Promise.all(all.map((s) => s.then((x) => x.release(), () => undefined)));
    },
  };
}
