import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import type { ConfigOverrides } from '../../src/checkpoint/infer-config.ts';
import { readPth } from '../../src/checkpoint/pth.ts';
import { readSafetensors } from '../../src/checkpoint/safetensors.ts';
import { createDetector, type Detector } from '../../src/pipeline/detector.ts';
import { readNsfwjsBundle } from '../../src/platform/node/nsfwjs.ts';
import { nsfwjsTensors } from '../../src/encoder/nsfwjs-weights.ts';
import { cnnPreprocess, parseEncoderSpec } from '../../src/encoder/patch-encoder.ts';
import type { ModelContent } from '../../src/model-folder/manifest.ts';
import { InputError } from '../../src/errors.ts';
import { loadModelFromPath } from '../../src/platform/node/model-folder.ts';
import { inputMultipleOf } from '../../src/inp-former/frozen-encoder.ts';
import { createOnnxInpFormer, createOnnxKnn } from '../../src/platform/node/onnx-session.ts';
import { loadOnnxRuntime } from '../../src/platform/node/onnx-runtime.ts';
import { OFFICIAL_PREPROCESS } from '../../src/preprocess/preprocess.ts';
import { useNodeBackend } from '../../src/platform/node/webgpu.ts';
import { UsageError } from './args.ts';
import type { Calibration, CnnEncoderConfig, CnnEncoderKind, PreprocessConfig, TensorMap } from '../../src/types.ts';

/** The installed nsfwjs package's MobileNetV2 weights (never copied into a model folder). */
export async function nsfwjsWeights(): Promise<TensorMap> {
  return nsfwjsTensors(await readNsfwjsBundle(), 'nsfwjs mobilenet_v2');
}

/**
 * An `-e` encoder spec (README "Encoder specs") → config and weights. `bundled` says whether the weights belong
 * in a model folder built on it (the ResNets' user-supplied files) or come from the installed package (nsfwjs).
 */
export async function resolveEncoderSpec(spec: string, stages?: (kind: CnnEncoderKind) => string[]): Promise<{ config: CnnEncoderConfig; weights: TensorMap; bundled: boolean; where: string }> {
  const { config, file } = parseEncoderSpec(spec, stages);
  if (!file) return { config, weights: await nsfwjsWeights(), bundled: false, where: 'nsfwjs mobilenet_v2' };
  const bytes = new Uint8Array(await readFile(file).catch(() => { throw new InputError(file, 'encoder weights not found'); }));
  const weights = /\.safetensors$/i.test(file) ? readSafetensors(bytes, file).tensors : readPth(bytes, file);
  return { config, weights, bundled: true, where: file };
}

export interface LoadedDetector {
  detector: Detector;
  name: string;
  preprocess: PreprocessConfig;
  calibration?: Calibration;
  /** What runs it: "onnxruntime-node" or "tfjs <backend>". */
  runtime: string;
}

/** A model folder (INP-Former or kNN) or an INP-Former checkpoint → a ready detector. */
/** The encoder weights a model does not hold itself: nsfwjs's, from the installed package. */
export async function packageEncoderWeights(c: ModelContent): Promise<TensorMap | undefined> {
  const kind = c.kind === 'knn' ? c.knn.encoder.kind : c.kind === 'inp-former' ? c.config.encoder.kind : undefined;
  return kind === 'nsfwjs-mobilenetv2' ? nsfwjsWeights() : undefined;
}

export const BACKENDS = ['onnx', 'wasm', 'cpu', 'webgpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

/**
 * `--backend` → the tfjs backend to start and whether models (INP-Formers and kNN detectors) run on
 * onnxruntime-node. The default is onnx where it loads (about ten times faster than any wasm engine here), else
 * tfjs wasm, saying why on stderr.
 */
export async function startBackend(flag: string | undefined, label: string): Promise<{ onnx: boolean; tfjs: Exclude<BackendChoice, 'onnx'> }> {
  const choice = (flag ?? 'onnx') as BackendChoice;
  if (!BACKENDS.includes(choice)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}; got "${flag}"`);
  let onnx = choice === 'onnx';
  if (onnx) {
    const ort = await loadOnnxRuntime();
    if (!ort.ok) {
      console.error(`${label}: ${ort.reason}; using tfjs wasm`);
      onnx = false;
    }
  }
  const tfjs = choice === 'onnx' ? 'wasm' : choice;
  await useNodeBackend(tfjs);
  return { onnx, tfjs };
}

export async function loadDetector(p: string, overrides: ConfigOverrides = {}, o: { onnx?: boolean } = {}): Promise<LoadedDetector> {
  const resolved = await loadModelFromPath(p, overrides);
  const c = resolved.content;
  const calibration = resolved.manifest?.calibration ? { calibration: resolved.manifest.calibration } : {};
  const encoderWeights = await packageEncoderWeights(c);
  if (o.onnx && c.kind !== 'encoder') {
    const opts = { where: p, ...(encoderWeights ? { encoderWeights } : {}) };
    const model = c.kind === 'knn' ? await createOnnxKnn(c.knn, c.tensors, opts) : await createOnnxInpFormer(c.config, c.tensors, opts);
    const preprocess = resolved.preprocess ?? (c.kind === 'knn' ? cnnPreprocess(c.knn.encoder.kind) : OFFICIAL_PREPROCESS);
    const detector: Detector = {
      kind: c.kind, preprocess, inputMultiple: c.kind === 'knn' ? 1 : inputMultipleOf(c.config.encoder),
      predict: (x, q) => model.predict(x, q), dispose: () => void model.dispose(),
    };
    return { detector, name: resolved.name, preprocess, runtime: 'onnxruntime-node', ...calibration };
  }
  const preprocess = resolved.preprocess ?? (c.kind === 'knn' ? cnnPreprocess(c.knn.encoder.kind) : undefined);
  const detector = createDetector(c, { where: p, ...(preprocess ? { preprocess } : {}), ...(encoderWeights ? { encoderWeights } : {}) });
  return { detector, name: resolved.name, preprocess: detector.preprocess, runtime: `tfjs ${tf.getBackend()}`, ...calibration };
}
