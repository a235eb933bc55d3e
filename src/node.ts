/**
 * inp-former-annotate/node: the public API plus what only Node has — models and images read from paths, the
 * nsfwjs encoder read from its installed package, onnxruntime-node (optional: a clear error where it is absent),
 * atomic writers for model folders and export files. The Node platform is chosen here, once.
 */
import { readImageFile } from './platform/node/files.ts';
import { nsfwjsTensors } from './encoder/nsfwjs-weights.ts';
import { InputError } from './errors.ts';
import type { ModelContent } from './model-folder/manifest.ts';
import type { OpenedModel } from './model-folder/open.ts';
import { createAnomalyDetector, type AnomalyDetector, type DetectorOptions } from './pipeline/api.ts';
import type { OnnxDetectorFactory } from './pipeline/detector.ts';
import { readNsfwjsBundle } from './platform/node/nsfwjs.ts';
import { loadOnnxRuntime } from './platform/node/onnx-runtime.ts';
import { createOnnxInpFormer, createOnnxKnn } from './platform/node/onnx-session.ts';
import type { ConfigOverrides } from './checkpoint/infer-config.ts';
import { loadModelFromPath } from './platform/node/model-folder.ts';
import type { TensorMap } from './types.ts';

export * from './index.ts';
export { writeModelFolder } from './platform/node/model-folder.ts';
export { useNodeBackend } from './platform/node/webgpu.ts';
export { writeCocoFile, writeCvatFile, writeLabelStudioFile, writeMaskPngs } from './platform/node/export-files.ts';

/** A model folder or a checkpoint file (.pth / .safetensors) from disk. */
export function loadModel(path: string, overrides: ConfigOverrides = {}): Promise<OpenedModel> {
  return loadModelFromPath(path, overrides);
}

/** A PNG or JPEG file, decoded to 8-bit RGB (EXIF orientation applied). */
export const readImage = readImageFile;

/** nsfwjs's MobileNetV2 weights from the installed `nsfwjs` package (the default encoder; never copied into a model). */
export async function nsfwjsWeights(): Promise<TensorMap> {
  return nsfwjsTensors(await readNsfwjsBundle(), 'nsfwjs mobilenet_v2');
}

/** onnxruntime-node as a detector runtime, or the reason it cannot load (it is an optional dependency). */
export async function onnxRuntimeNode(): Promise<{ create: OnnxDetectorFactory; runtime: string }> {
  const ort = await loadOnnxRuntime();
  if (!ort.ok) throw new InputError('onnxruntime-node', `${ort.reason}: install it (npm install onnxruntime-node) or run on tfjs`);
  return { create: (c, o) => (c.kind === 'knn' ? createOnnxKnn(c.knn, c.tensors, o, c.refine) : createOnnxInpFormer(c.config, c.tensors, o, c.refine)), runtime: 'onnxruntime-node' };
}

/**
 * A detector from a path, with the encoder weights it needs found for it (nsfwjs's from its package). Runs on
 * tfjs unless `onnx: true` (onnxruntime-node).
 */
export async function loadDetector(path: string, o: Omit<DetectorOptions, 'onnx' | 'encoderWeights'> & { onnx?: boolean } = {}): Promise<AnomalyDetector> {
  const model = await loadModel(path);
  const encoderWeights = await packageEncoderWeights(model.content);
  return createAnomalyDetector(model, {
    ...(o.preprocess ? { preprocess: o.preprocess } : {}), ...(encoderWeights ? { encoderWeights } : {}),
    ...(o.onnx ? { onnx: await onnxRuntimeNode() } : {}),
  });
}

/** The encoder weights a model does not hold itself: nsfwjs's, from the installed package. */
export async function packageEncoderWeights(c: ModelContent): Promise<TensorMap | undefined> {
  const kind = c.kind === 'knn' ? c.knn.encoder.kind : c.kind === 'inp-former' ? c.config.encoder.kind : undefined;
  return kind === 'nsfwjs-mobilenetv2' ? nsfwjsWeights() : undefined;
}
