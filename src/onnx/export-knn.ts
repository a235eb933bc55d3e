import { InputError } from '../errors.ts';
import { encoderTensorsOf } from '../inp-former/frozen-encoder.ts';
import { bankFromTensors, centreBank, type MemoryBank } from '../knn/knn.ts';
import type { KnnConfig, PreprocessConfig, TensorMap } from '../types.ts';
import { checkExportSizes, ONNX_IO, type OnnxExportOptions } from './export-inp-former.ts';
import { cnnTokenGraph } from './export-cnn.ts';
import { GraphBuilder, OPSET } from './graph.ts';
import { mapChain, sumSquares } from './ops.ts';
import { refinedCoarseGraph } from './export-refine.ts';
import type { RefineHead } from '../refine/config.ts';
import { DataType, encodeModel, type ModelProto } from './proto.ts';

/**
 * The kNN detector (src/knn/knn.ts) → ONNX: CNN patch tokens, Euclidean distance of each to its nearest
 * memory-bank row, then the same map chain as INP-Former; the image score is the map's maximum (PatchCore) unless
 * `topRatio` says otherwise. Outputs `anomaly_map` and `image_score` (no zero-shot map: there are no INPs).
 */

/** Metadata stored in the file (the bank itself is an initializer). */
export interface OnnxKnnMetadata {
  knn: KnnConfig;
  inputSize: [number, number];
  mapSize: [number, number];
  topRatio: number;
  preprocess?: PreprocessConfig;
}
export const KNN_METADATA_KEY = 'inp-former-knn';

/**
 * Bank columns per MatMul, as the tfjs path's default chunk: the [N, L, chunk] distance block is all that exists
 * at once, so a 100k-row bank does not need an N·L·100k matrix.
 */
const BANK_CHUNK = 8192;

/**
 * Tokens [N, L, dim] → Euclidean distance of each to its nearest bank row [N, L]: ‖a‖² − 2a·b + ‖b‖² per bank chunk
 * on the tokens and bank centred on the bank mean (centreBank: float32 cancellation), minimum over the bank. The
 * centred bank is stored transposed and scaled by −2 (exact in float32), so each chunk is one MatMul and two
 * broadcast Adds, in the order the tfjs path sums.
 */
export function nearestDistance(b: GraphBuilder, tokens: string, bank: MemoryBank): string {
  return nearest(b, tokens, bank, false).dist;
}

/**
 * `nearestDistance`, and with `withResidual` the refinement head's input as the tfjs path's `residual` makes it:
 * |token − nearest centred bank row| and the distance, [N, L, dim + 1] (ArgMin per chunk, the earlier chunk winning
 * ties as tf.where(less) does).
 */
function nearest(b: GraphBuilder, tokens: string, bank: MemoryBank, withResidual: boolean): { dist: string; residual?: string } {
  const { centred, mean } = centreBank(bank);
  const a = b.op('Sub', [tokens, b.initializer('memory_bank.mean', mean, [bank.dim])]);
  const an = sumSquares(b, a, 1);
  let best: string | undefined;
  let index: string | undefined;
  for (let s = 0; s < bank.size; s += BANK_CHUNK) {
    const rows = Math.min(BANK_CHUNK, bank.size - s);
    const bt = new Float32Array(bank.dim * rows);
    const norms = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < bank.dim; c++) {
        const v = centred.data[(s + r) * bank.dim + c];
        bt[c * rows + r] = -2 * v;
        norms[r] += v * v;
      }
    }
    const tag = `memory_bank[${s}:${s + rows}]`;
    const dot = b.op('MatMul', [a, b.initializer(`${tag}.T*-2`, bt, [bank.dim, rows])]);
    const d = b.op('Add', [b.op('Add', [an, dot]), b.initializer(`${tag}.sqnorm`, norms, [rows])]);
    const m = b.op('ReduceMin', [d], { axes: [-1], keepdims: 0 });
    if (withResidual) {
      const i = b.op('Add', [b.op('ArgMin', [d], { axis: -1, keepdims: 0 }), b.initializer(`${tag}.offset`, BigInt64Array.of(BigInt(s)), [])]);
      index = index && best ? b.op('Where', [b.op('Less', [m, best]), i, index]) : i;
    }
    best = best ? b.op('Min', [best, m]) : m;
  }
  // relu before sqrt: rounding can make a near-zero squared distance slightly negative.
  const dist = b.op('Sqrt', [b.op('Relu', [best!])]);
  if (!withResidual) return { dist };
  const row = b.op('Gather', [b.initializer('memory_bank.centred', centred.data, [bank.size, bank.dim]), index!], { axis: 0 });
  const diff = b.op('Abs', [b.op('Sub', [a, row])]);
  return { dist, residual: b.op('Concat', [diff, b.op('Unsqueeze', [dist, b.ints([-1])])], { axis: -1 }) };
}

/** `refine`: a refinement head whose refined map the graph outputs instead of the distance map (src/refine). */
export function buildKnnGraph(knn: KnnConfig, tensors: TensorMap, opts: OnnxExportOptions, where = 'weights', refine?: RefineHead): ModelProto {
  checkExportSizes(opts, 1);
  const bank = bankFromTensors(tensors, knn, where);
  const o = { ...opts, topRatio: opts.topRatio ?? 0 };
  const b = new GraphBuilder();
  const { tokens, grid, dim } = cnnTokenGraph(b, ONNX_IO.input, knn.encoder, o.encoderWeights ?? encoderTensorsOf(tensors), o.inputSize, where);
  if (dim !== bank.dim) throw new InputError(`${where}: knn.dim`, `the encoder gives ${dim}-d tokens, the memory bank holds ${bank.dim}-d rows`);

  b.scope('knn', () => {
    const { dist, residual } = nearest(b, tokens, bank, !!refine);
    const coarse = b.op('Reshape', [dist, b.ints([-1, 1, grid[0], grid[1]])]);
    mapChain(b, refine ? b.scope('refine', () => refinedCoarseGraph(b, residual!, coarse, grid, refine)) : coarse, o, [ONNX_IO.map, ONNX_IO.score]);
  });

  const [H, W] = o.inputSize;
  const [mh, mw] = o.mapSize;
  const metadata: OnnxKnnMetadata = {
    knn, inputSize: o.inputSize, mapSize: o.mapSize, topRatio: o.topRatio, ...(o.preprocess ? { preprocess: o.preprocess } : {}),
  };
  return b.build({
    name: o.name ?? 'knn',
    docString: `kNN detector (${knn.encoder.kind} ${knn.encoder.layers.join('+')}, ${bank.size}-row memory bank${refine ? ', refinement head' : ''}) at ${H}×${W}: normalised NCHW image in; ${refine ? 'refined ' : ''}nearest-neighbour distance map at ${mh}×${mw} (σ=4 Gaussian) and its ${o.topRatio ? `top-${o.topRatio} mean` : 'maximum'} out. Opset ${OPSET}.`,
    inputs: [{ name: ONNX_IO.input, type: DataType.FLOAT, dims: ['N', 3, H, W] }],
    outputs: [
      { name: ONNX_IO.map, type: DataType.FLOAT, dims: ['N', 1, mh, mw] },
      { name: ONNX_IO.score, type: DataType.FLOAT, dims: ['N'] },
    ],
    metadata: { [KNN_METADATA_KEY]: JSON.stringify(metadata) },
  });
}

/** The .onnx file's bytes of a kNN detector (`tensors`: the model folder's, with `memory_bank`). */
export function exportKnnOnnx(knn: KnnConfig, tensors: TensorMap, opts: OnnxExportOptions, where?: string, refine?: RefineHead): Uint8Array {
  return encodeModel(buildKnnGraph(knn, tensors, opts, where, refine));
}
