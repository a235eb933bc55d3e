import { readFile } from 'node:fs/promises';
import type { ConfigOverrides } from '../../src/checkpoint/infer-config.ts';
import { readPth } from '../../src/checkpoint/pth.ts';
import { readSafetensors } from '../../src/checkpoint/safetensors.ts';
import { createDetector, knnPreprocess, type Detector } from '../../src/detector.ts';
import { readNsfwjsBundle } from '../../src/encoder/nsfwjs-node.ts';
import { nsfwjsTensors } from '../../src/encoder/nsfwjs-weights.ts';
import { parseEncoderSpec } from '../../src/encoder/patch-encoder.ts';
import { InputError } from '../../src/errors.ts';
import { loadModelFromPath } from '../../src/model-folder/node-io.ts';
import type { Calibration, CnnEncoderConfig, PreprocessConfig, TensorMap } from '../../src/types.ts';

/** The installed nsfwjs package's MobileNetV2 weights (never copied into a model folder). */
export async function nsfwjsWeights(): Promise<TensorMap> {
  return nsfwjsTensors(await readNsfwjsBundle(), 'nsfwjs mobilenet_v2');
}

/**
 * An `-e` encoder spec (README "Encoder specs") → config and weights. `bundled` says whether the weights belong
 * in a model folder built on it (the ResNets' user-supplied files) or come from the installed package (nsfwjs).
 */
export async function resolveEncoderSpec(spec: string): Promise<{ config: CnnEncoderConfig; weights: TensorMap; bundled: boolean; where: string }> {
  const { config, file } = parseEncoderSpec(spec);
  if (!file) return { config, weights: await nsfwjsWeights(), bundled: false, where: 'nsfwjs mobilenet_v2' };
  const bytes = new Uint8Array(await readFile(file).catch(() => { throw new InputError(file, 'encoder weights not found'); }));
  const weights = /\.safetensors$/i.test(file) ? readSafetensors(bytes, file).tensors : readPth(bytes, file);
  return { config, weights, bundled: true, where: file };
}

export interface LoadedDetector { detector: Detector; name: string; preprocess: PreprocessConfig; calibration?: Calibration }

/** A model folder (INP-Former or kNN) or an INP-Former checkpoint → a ready detector. */
export async function loadDetector(p: string, overrides: ConfigOverrides = {}): Promise<LoadedDetector> {
  const resolved = await loadModelFromPath(p, overrides);
  const c = resolved.content;
  const needsPackage = c.kind === 'knn' && c.knn.encoder.kind === 'nsfwjs-mobilenetv2';
  const preprocess = resolved.preprocess ?? (c.kind === 'knn' ? knnPreprocess(c.knn.encoder.kind) : undefined);
  const detector = createDetector(c, { where: p, ...(preprocess ? { preprocess } : {}), ...(needsPackage ? { encoderWeights: await nsfwjsWeights() } : {}) });
  return { detector, name: resolved.name, preprocess: detector.preprocess, ...(resolved.manifest?.calibration ? { calibration: resolved.manifest.calibration } : {}) };
}
