import { readFile } from 'node:fs/promises';
import type { ConfigOverrides } from '../../src/checkpoint/infer-config.ts';
import { readPth } from '../../src/checkpoint/pth.ts';
import { readSafetensors } from '../../src/checkpoint/safetensors.ts';
import { createDetector, type Detector } from '../../src/detector.ts';
import { readNsfwjsBundle } from '../../src/encoder/nsfwjs-node.ts';
import { nsfwjsTensors } from '../../src/encoder/nsfwjs-weights.ts';
import { cnnPreprocess, parseEncoderSpec } from '../../src/encoder/patch-encoder.ts';
import type { ModelContent } from '../../src/model-folder/manifest.ts';
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
/** The encoder weights a model does not hold itself: nsfwjs's, from the installed package. */
export async function packageEncoderWeights(c: ModelContent): Promise<TensorMap | undefined> {
  const kind = c.kind === 'knn' ? c.knn.encoder.kind : c.kind === 'inp-former' ? c.config.encoder.kind : undefined;
  return kind === 'nsfwjs-mobilenetv2' ? nsfwjsWeights() : undefined;
}

export async function loadDetector(p: string, overrides: ConfigOverrides = {}): Promise<LoadedDetector> {
  const resolved = await loadModelFromPath(p, overrides);
  const c = resolved.content;
  const encoderWeights = await packageEncoderWeights(c);
  const preprocess = resolved.preprocess ?? (c.kind === 'knn' ? cnnPreprocess(c.knn.encoder.kind) : undefined);
  const detector = createDetector(c, { where: p, ...(preprocess ? { preprocess } : {}), ...(encoderWeights ? { encoderWeights } : {}) });
  return { detector, name: resolved.name, preprocess: detector.preprocess, ...(resolved.manifest?.calibration ? { calibration: resolved.manifest.calibration } : {}) };
}
