import { readFile } from 'node:fs/promises';
import type { ConfigOverrides } from '../../src/checkpoint/infer-config.ts';
import { readPth } from '../../src/checkpoint/pth.ts';
import { readSafetensors } from '../../src/checkpoint/safetensors.ts';
import { assembleDetector, type LoadedDetector } from '../../src/pipeline/detector.ts';
import { nsfwjsWeights, onnxRuntimeNode, packageEncoderWeights } from '../../src/node.ts';
import { parseEncoderSpec } from '../../src/encoder/cnn-config.ts';
import { InputError } from '../../src/errors.ts';
import { loadModelFromPath } from '../../src/platform/node/model-folder.ts';
import { loadOnnxRuntime } from '../../src/platform/node/onnx-runtime.ts';
import { useNodeBackend } from '../../src/platform/node/webgpu.ts';
import { UsageError } from './args.ts';
import type { CnnEncoderConfig, CnnEncoderKind, TensorMap } from '../../src/types.ts';

export type { LoadedDetector };

export { nsfwjsWeights, packageEncoderWeights };

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

/** A model folder (INP-Former or kNN) or an INP-Former checkpoint → a ready detector (onnxruntime-node with `onnx`; `raw`: a refined folder's unrefined map). */
export async function loadDetector(p: string, overrides: ConfigOverrides = {}, o: { onnx?: boolean; raw?: boolean } = {}): Promise<LoadedDetector> {
  const resolved = await loadModelFromPath(p, overrides);
  const encoderWeights = await packageEncoderWeights(resolved.content);
  return assembleDetector(resolved.content, {
    name: resolved.name, where: p,
    ...(resolved.preprocess ? { preprocess: resolved.preprocess } : {}),
    ...(resolved.manifest?.calibration ? { calibration: resolved.manifest.calibration } : {}),
    ...(encoderWeights ? { encoderWeights } : {}),
    ...(o.onnx ? { onnx: await onnxRuntimeNode() } : {}),
    ...(o.raw ? { raw: true } : {}),
  });
}
