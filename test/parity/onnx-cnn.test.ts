import type { ModelInput } from '../../src/pipeline/train-job.ts';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetector, type Detector } from '../../src/pipeline/detector.ts';
import { readNsfwjsBundle } from '../../src/platform/node/nsfwjs.ts';
import { nsfwjsTensors } from '../../src/encoder/nsfwjs-weights.ts';
import { createPatchEncoder } from '../../src/encoder/patch-encoder.ts';
import { cnnTokenDim } from '../../src/encoder/cnn-config.ts';
import { CheckpointError, InputError } from '../../src/errors.ts';
import { ENCODER_PREFIX } from '../../src/inp-former/frozen-encoder.ts';
import { initHead, seededRandom } from '../../src/inp-former/init.ts';
import { createInpFormer, type PredictOptions } from '../../src/inp-former/predict.ts';
import { fitMemoryBank, knnTensors } from '../../src/knn/knn.ts';
import { buildInpFormerGraph, ONNX_IO } from '../../src/onnx/export-inp-former.ts';
import { buildKnnGraph, exportKnnOnnx, KNN_METADATA_KEY } from '../../src/onnx/export-knn.ts';
import { decodeModel } from '../../src/onnx/proto.ts';
import { loadOnnxRuntime } from '../../src/platform/node/onnx-runtime.ts';
import { createOnnxInpFormer, createOnnxKnn, type OnnxDetector } from '../../src/platform/node/onnx-session.ts';
import { useBackend } from '../../src/runtime/backend.ts';
import type { CnnEncoderConfig, InpFormerConfig, KnnConfig, TensorMap } from '../../src/types.ts';
import { maxAbsDiff, relMaxDiff } from '../helpers/shared.ts';
import { initRefineTensors } from '../../src/refine/head.ts';
import { syntheticResNet } from '../helpers/synthetic-resnet.ts';

/**
 * ONNX export of the CNN encoders (torchvision ResNets on synthetic weights, the installed nsfwjs MobileNetV2)
 * under an INP-Former head and under the kNN detector, run in onnxruntime-node, against the tfjs path on wasm:
 * maps within 1e-4 of their max, scores within 1e-4 relative.
 */
const loaded = await loadOnnxRuntime();
const SKIP = loaded.ok ? '' : ` (skipped: ${loaded.reason})`;

function batch(n: number, h: number, w: number, seed: number, uniform = false): { data: Float32Array; shape: [number, number, number, number] } {
  const t = tf.tidy(() => (uniform ? tf.randomUniform([n, 3, h, w], 0, 1, 'float32', seed) : tf.randomNormal([n, 3, h, w], 0, 1, 'float32', seed)));
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return { data, shape: [n, 3, h, w] };
}

/** A CNN INP-Former: 4 heads, 2 INPs, 2 decoder blocks, width = the encoder's token width. */
function cnnInpFormer(encoder: CnnEncoderConfig): InpFormerConfig {
  return {
    architecture: 'inp-former', encoder, embedDim: cnnTokenDim(encoder), numHeads: 4, inpCount: 2, decoderDepth: 2,
    targetLayers: [0], fuseEncoder: [[0]], fuseDecoder: [[0, 1]], mlpRatio: 2, lnEps: 1e-8,
  };
}

const prefixed = (t: TensorMap): TensorMap => new Map([...t].map(([k, v]) => [ENCODER_PREFIX + k, v]));

const measured: Record<string, number> = {};

async function compare(name: string, onnx: OnnxDetector, ref: Pick<Detector, 'predict'>, input: ModelInput, opts: PredictOptions): Promise<void> {
  const a = await onnx.predict(input, opts);
  const b = await ref.predict(input, opts);
  expect([a.height, a.width, a.maps.length]).toEqual([b.height, b.width, b.maps.length]);
  const mapErr = Math.max(...a.maps.map((m, i) => relMaxDiff(m, b.maps[i])));
  const scoreErr = maxAbsDiff(a.scores, b.scores) / Math.max(...b.scores.map(Math.abs));
  measured[`${name} map`] = mapErr;
  measured[`${name} score`] = scoreErr;
  expect(mapErr, `${name}: map`).toBeLessThan(1e-4);
  expect(scoreErr, `${name}: score`).toBeLessThan(1e-4);
}

describe(`ONNX export of CNN encoders vs tfjs wasm${SKIP}`, () => {
  let nsfwjs: TensorMap;
  let tensorsBefore: number;
  beforeAll(async () => {
    await useBackend('wasm');
    tensorsBefore = tf.memory().numTensors;
    nsfwjs = nsfwjsTensors(await readNsfwjsBundle(), 'nsfwjs mobilenet_v2');
  });
  afterAll(() => {
    if (Object.keys(measured).length) console.log(`onnx CNN parity, max error rel. to the tfjs max:\n${Object.entries(measured).map(([k, v]) => `  ${k}: ${v.toExponential(2)}`).join('\n')}`);
  });

  it.skipIf(!loaded.ok)(`INP-Former over ResNet-18 layer1+layer2 (synthetic), batch 2, reconstruction and zero-shot maps${SKIP}`, async () => {
    const config = cnnInpFormer({ kind: 'resnet18', layers: ['layer1', 'layer2'], localAverage: true });
    const tensors = new Map([...prefixed(syntheticResNet('resnet18', 2, 1)), ...initHead(config, 2)]);
    const onnx = await createOnnxInpFormer(config, tensors, { threads: 1 });
    const ref = createInpFormer(config, tensors);
    try {
      const x = batch(2, 64, 64, 3);
      await compare('resnet18 inp-former', onnx, ref, x, { mapSize: 64 });
      await compare('resnet18 inp-former zero-shot', onnx, ref, x, { mapSize: 64, zeroShot: true });
    } finally {
      ref.dispose();
      await onnx.dispose();
    }
  });

  it.skipIf(!loaded.ok)(`refined INP-Former (refinement head on |E − D|·cos distance): refined map, raw zero-shot map${SKIP}`, async () => {
    const config = cnnInpFormer({ kind: 'resnet18', layers: ['layer1', 'layer2'], localAverage: true });
    const tensors = new Map([...prefixed(syntheticResNet('resnet18', 2, 1)), ...initHead(config, 2)]);
    const rand = seededRandom(6);
    const inputDim = config.embedDim + 1;
    const rc = { inputDim, widths: [8, 6, 4] as [number, number, number], rawScale: 0.5, training: { normals: 2, masks: 0, steps: 0, seed: 0 } };
    const refine = { config: rc, tensors: initRefineTensors(rc, Float32Array.from({ length: inputDim }, () => 0.2 + rand()), 7) };
    const onnx = await createOnnxInpFormer(config, tensors, { threads: 1 }, refine);
    const ref = createDetector({ kind: 'inp-former', config, tensors, refine }, { where: 'synthetic' });
    const raw = createInpFormer(config, tensors);
    try {
      const x = batch(2, 64, 64, 3);
      await compare('refined inp-former', onnx, ref, x, { mapSize: 64 });
      await compare('refined inp-former zero-shot', onnx, raw, x, { mapSize: 64, zeroShot: true });
      expect(relMaxDiff((await onnx.predict(x, { mapSize: 64 })).maps[0], (await raw.predict(x, { mapSize: 64 })).maps[0])).toBeGreaterThan(1e-2);
    } finally {
      ref.dispose();
      raw.dispose();
      await onnx.dispose();
    }
  });

  it.skipIf(!loaded.ok)(`INP-Former over the nsfwjs MobileNetV2 (installed weights), odd 100×100 input, annotate output size${SKIP}`, async () => {
    const config = cnnInpFormer({ kind: 'nsfwjs-mobilenetv2', layers: ['block_2', 'block_5', 'block_9'], localAverage: true });
    const head = initHead(config, 4);
    const onnx = await createOnnxInpFormer(config, head, { threads: 1, encoderWeights: nsfwjs });
    const ref = createInpFormer(config, head, { encoderWeights: nsfwjs });
    try {
      await compare('mobilenetv2 inp-former', onnx, ref, batch(1, 100, 100, 5, true), { mapSize: 64, outputSize: [90, 120] });
    } finally {
      ref.dispose();
      await onnx.dispose();
    }
  });

  /** A kNN model whose bank holds the tokens of `normals` (coreset 1), after `padRows` far-away random rows. */
  async function knnModel(encoder: CnnEncoderConfig, weights: TensorMap, normals: ReturnType<typeof batch>, padRows: number, bundled: boolean) {
    const enc = createPatchEncoder(encoder, weights, 'synthetic');
    const x = tf.tensor4d(normals.data, normals.shape);
    const fitted = await fitMemoryBank(enc, [x], { coresetRatio: 1 });
    x.dispose();
    enc.dispose();
    // Far rows first, fitted rows last: the nearest neighbours sit in the last chunk, so the chunks' Min matters.
    const rand = seededRandom(9);
    const data = new Float32Array((padRows + fitted.size) * fitted.dim);
    for (let i = 0; i < padRows * fitted.dim; i++) data[i] = 50 + rand();
    data.set(fitted.data, padRows * fitted.dim);
    const bank = { data, size: padRows + fitted.size, dim: fitted.dim };
    const knn: KnnConfig = { encoder, bankSize: bank.size, dim: bank.dim, coresetRatio: 1, seed: 0, images: normals.shape[0] };
    return { knn, tensors: knnTensors(bank, bundled ? weights : undefined) };
  }

  const knnCases: Array<{ name: string; encoder: CnnEncoderConfig; weights: () => TensorMap; input: [number, number]; padRows: number; bundled: boolean; opts: PredictOptions; normalTest?: boolean }> = [
    {
      name: 'resnet50 layer2+layer3, 64×80, bank over two 8192-row chunks', encoder: { kind: 'resnet50', layers: ['layer2', 'layer3'], localAverage: true },
      weights: () => syntheticResNet('resnet50', 3, 11), input: [64, 80], padRows: 8192, bundled: true, opts: { mapSize: [48, 60] },
      // Test images unlike the bank's: on near-bank images this random ResNet-50's tokens have ‖a‖² ≈ 1000·d² even
      // after centring on the bank mean (the 8192 far rows pull the mean away from the fitted ones), and
      // ‖a‖² − 2a·b + ‖b‖² in float32 then differs by ~1e-3 of the max between any two summation orders, on both
      // paths alike.
      normalTest: true,
    },
    {
      name: 'wide_resnet50_2 layer1+layer2, no local average, 6×6 grid (downsampled)', encoder: { kind: 'wide_resnet50_2', layers: ['layer1', 'layer2'], localAverage: false, grid: 6 },
      weights: () => syntheticResNet('wide_resnet50_2', 2, 12), input: [64, 64], padRows: 0, bundled: true, opts: { mapSize: 32 },
    },
    {
      name: 'nsfwjs MobileNetV2 default blocks, 224×224', encoder: { kind: 'nsfwjs-mobilenetv2', layers: ['block_2', 'block_5', 'block_9'], localAverage: true },
      weights: () => nsfwjs, input: [224, 224], padRows: 0, bundled: false, opts: { mapSize: 224 },
    },
  ];
  for (const c of knnCases) {
    it.skipIf(!loaded.ok)(`kNN detector: ${c.name}${SKIP}`, async () => {
      const weights = c.weights();
      const { knn, tensors } = await knnModel(c.encoder, weights, batch(2, ...c.input, 21, true), c.padRows, c.bundled);
      const extra = c.bundled ? {} : { encoderWeights: weights };
      const onnx = await createOnnxKnn(knn, tensors, { threads: 1, ...extra });
      const ref = createDetector({ kind: 'knn', knn, tensors }, { where: 'synthetic', ...extra });
      try {
        await compare(`knn ${c.encoder.kind}`, onnx, ref, batch(2, ...c.input, 22, !c.normalTest), c.opts);
      } finally {
        ref.dispose();
        await onnx.dispose();
      }
    });
  }

  it.skipIf(!loaded.ok)(`refined kNN (refinement head after the nearest row's residual), bank over two chunks${SKIP}`, async () => {
    const encoder: CnnEncoderConfig = { kind: 'resnet18', layers: ['layer1', 'layer2'], localAverage: true };
    const weights = syntheticResNet('resnet18', 2, 13);
    const normals = batch(2, 48, 48, 23, true);
    const fitted = await knnModel(encoder, weights, normals, 0, true);
    // Two chunks: 8192 rows that are the fitted ones jittered by ±30 % (near the bank mean, unlike knnModel's far
    // padding, so the distances keep float32 precision), then the fitted rows, each test token's nearest.
    const rand = seededRandom(4);
    const f = fitted.tensors.get('memory_bank')!;
    const dim = fitted.knn.dim;
    const rows = 8192 + fitted.knn.bankSize;
    const data = new Float32Array(rows * dim);
    for (let r = 0; r < 8192; r++) {
      const src = Math.floor(rand() * fitted.knn.bankSize);
      for (let c = 0; c < dim; c++) data[r * dim + c] = (f.data as Float32Array)[src * dim + c] * (0.7 + 0.6 * rand());
    }
    data.set(f.data as Float32Array, 8192 * dim);
    const knn: KnnConfig = { ...fitted.knn, bankSize: rows };
    const tensors = new Map(fitted.tensors).set('memory_bank', { dtype: 'F32', shape: [rows, dim], data });
    const inputDim = knn.dim + 1;
    const config = { inputDim, widths: [8, 6, 4] as [number, number, number], rawScale: 3, training: { normals: 2, masks: 0, steps: 0, seed: 0 } };
    const refine = { config, tensors: initRefineTensors(config, Float32Array.from({ length: inputDim }, () => 0.5 + 1.5 * rand()), 5) };
    const onnx = await createOnnxKnn(knn, tensors, { threads: 1 }, refine);
    const ref = createDetector({ kind: 'knn', knn, tensors, refine }, { where: 'synthetic' });
    const raw = createDetector({ kind: 'knn', knn, tensors }, { where: 'synthetic' });
    try {
      // The normals slightly changed: each token's nearest row is clear, so float32 summation order cannot flip the
      // ArgMin between two near-equidistant rows (which would change the residual, not just round it).
      const noise = batch(2, 48, 48, 24);
      const input = { data: normals.data.map((v, i) => v + 0.2 * noise.data[i]), shape: normals.shape };
      await compare('refined knn', onnx, ref, input, { mapSize: 40 });
      // The head changes the map: the refined graph is not the raw one.
      const [a, b] = [await onnx.predict(input, { mapSize: 40 }), await raw.predict(input, { mapSize: 40 })];
      expect(relMaxDiff(a.maps[0], b.maps[0])).toBeGreaterThan(1e-2);
    } finally {
      ref.dispose();
      raw.dispose();
      await onnx.dispose();
    }
  });

  it('leaves no tfjs tensor behind', () => {
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});

describe('ONNX export of CNN models: graph and errors', () => {
  const encoder: CnnEncoderConfig = { kind: 'resnet18', layers: ['layer1'], localAverage: true };
  const weights = syntheticResNet('resnet18', 1, 3);
  const opts = { inputSize: [32, 32] as [number, number], mapSize: [16, 16] as [number, number] };
  const bank = { data: new Float32Array(5 * 64), size: 5, dim: 64 };
  const knn: KnnConfig = { encoder, bankSize: 5, dim: 64, coresetRatio: 1, seed: 0, images: 1 };

  it('folds every BatchNorm (no BatchNormalization node), stores the kNN config and has only map and score outputs', () => {
    const m = decodeModel(exportKnnOnnx(knn, knnTensors(bank, weights), opts, 'k'));
    const ops = new Set(m.graph.node.map((n) => n.op_type));
    expect(ops.has('BatchNormalization')).toBe(false);
    for (const op of ['Conv', 'MaxPool', 'AveragePool', 'MatMul', 'ReduceMin', 'Sqrt', 'ReduceMax']) expect(ops.has(op), op).toBe(true);
    expect(m.graph.output.map((v) => v.name)).toEqual([ONNX_IO.map, ONNX_IO.score]);
    expect(JSON.parse(m.metadata_props.find((p) => p.key === KNN_METADATA_KEY)!.value)).toEqual({ knn, inputSize: [32, 32], mapSize: [16, 16], topRatio: 0 });
  });

  it.skipIf(!loaded.ok)(`refuses a zero-shot map from a kNN model${SKIP}`, async () => {
    const onnx = await createOnnxKnn(knn, knnTensors(bank, weights), { threads: 1 });
    await expect(onnx.predict(batch(1, 32, 32, 1), { mapSize: 16, zeroShot: true })).rejects.toThrow(/a kNN model has no zero-shot map/);
    await onnx.dispose();
  });

  it('names the missing or mis-shaped encoder tensor and the file', () => {
    const config = cnnInpFormer(encoder);
    const missing = prefixed(weights);
    missing.delete('encoder.layer1.1.bn2.running_var');
    const t = new Map([...missing, ...initHead(config, 1)]);
    expect(() => buildInpFormerGraph(config, t, opts, 'm.pth')).toThrow(new CheckpointError('m.pth', 'layer1 is not usable: missing layer1.1.bn2.running_var'));
    const bad = new Map(weights).set('layer1.0.conv2.weight', { dtype: 'F32', shape: [64, 32, 3, 3], data: new Float32Array(64 * 32 * 9) });
    expect(() => buildKnnGraph(knn, knnTensors(bank, bad), opts, 'k')).toThrow(/k: layer1\.0\.conv2\.weight: shape \[64,32,3,3\] takes 32 input channels; the layer before gives 64/);
    expect(() => buildKnnGraph({ ...knn, dim: 64, encoder: { ...encoder, layers: ['layer1', 'layer2'] } }, knnTensors(bank, weights), opts, 'k')).toThrow(/k: layer2 is not usable: missing layer2\.0\.conv1\.weight/);
    expect(() => buildKnnGraph(knn, knnTensors(bank, weights), { ...opts, inputSize: [0, 32] }, 'k')).toThrow(InputError);
  });
});
