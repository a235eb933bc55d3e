import { proposeRegions, type ProposalOptions, type Proposals } from '../annotate/proposals.ts';
import { defaultStages } from '../encoder/cnn-config.ts';
import { InputError } from '../errors.ts';
import { initHead } from '../inp-former/init.ts';
import { ENCODER_PREFIX } from '../inp-former/frozen-encoder.ts';
import { fitKnnModel } from '../knn/fit-model.ts';
import { buildModelFolder, MANIFEST_FILE, type BuiltModelFolder } from '../model-folder/manifest.ts';
import { fetchModelFiles, type FileGetter } from '../model-folder/fetch.ts';
import { openModel, type OpenedModel } from '../model-folder/open.ts';
import { cnnPreprocess } from '../encoder/cnn-config.ts';
import { OFFICIAL_PREPROCESS } from '../preprocess/preprocess.ts';
import { calibrationAt } from '../threshold/confidence.ts';
import { headConfigFor } from '../train/head-config.ts';
import type { TrainMode } from '../train/recipe.ts';
import { DEFAULT_FINETUNE_MODE } from '../train/recipe.ts';
import type { AnomalyMap, Calibration, CnnEncoderConfig, PreprocessConfig, Progress, RgbImage, TensorMap } from '../types.ts';
import { assembleDetector, type OnnxDetectorFactory } from './detector.ts';
import { imageMap } from './image-map.ts';
import { progressCounter } from './progress.ts';
import { modelInput, recipeSettings, runTrainingJob, type JobSettings } from './train-job.ts';
import { runRefineJob } from './refine-job.ts';
import type { BinaryMask } from '../image/mask.ts';
import type { Selection } from '../selection/validate.ts';

/**
 * The library's face (README "Use as a library"): pixels in, plain typed arrays out, no tensor crosses it. Models
 * are opened from bytes (model-folder/open.ts) by the caller's platform entry (`inp-former-annotate/node` reads
 * paths; a page fetches), so everything here runs in Node and in browsers alike.
 */

/**
 * A model from a URL (a checkpoint, or a model folder's manifest.json or folder URL ending in /), downloaded with
 * download Progress events and opened; every folder file is checked against the manifest's sha256.
 */
export async function openModelUrl(url: string | URL, o: { onProgress?: (p: Progress) => void; signal?: AbortSignal; get?: FileGetter } = {}): Promise<OpenedModel> {
  const { files } = await fetchModelFiles(url, o);
  const name = String(url);
  return files.length === 1 && files[0].name !== MANIFEST_FILE
    ? openModel({ checkpoint: files[0].bytes, name: files[0].name })
    : openModel({ files: new Map(files.map((f) => [f.name, f.bytes])), name });
}

/** Options fixed when a detector is created (tfjs-models' load-time config). */
export interface DetectorOptions {
  /** A CNN encoder's weights where the model does not hold them (nsfwjs: `nsfwjsWeights()` of the platform entry). */
  encoderWeights?: TensorMap;
  /** Replaces the model folder's preprocessing. */
  preprocess?: PreprocessConfig;
  /** Run on an ONNX runtime instead of tfjs (Node: `onnxRuntimeNode()`). */
  onnx?: { create: OnnxDetectorFactory; runtime: string };
}

/** What `detect` answers: the raw anomaly map (where masks are cut: the image's own size under the annotate protocol) and the image score. */
export interface Detection { map: AnomalyMap; score: number }

export interface AnomalyDetector {
  readonly kind: 'inp-former' | 'knn';
  readonly name: string;
  readonly preprocess: PreprocessConfig;
  /** The calibration saved with the model, if any: what `propose` cuts with by default. */
  readonly calibration?: Calibration;
  /** "tfjs wasm", "onnxruntime-node", … */
  readonly runtime: string;
  detect(image: RgbImage): Promise<Detection>;
  /**
   * Defect proposals for an image: its map cut at the calibration (the model's unless given), moved by
   * `sensitivity` (0–1, 0.5 = the calibrated cut; higher proposes more).
   */
  propose(image: RgbImage, o?: { calibration?: Calibration; sensitivity?: number; options?: ProposalOptions }): Promise<Proposals & { map: AnomalyMap }>;
  dispose(): void;
}

/** An opened model → a ready detector (INP-Former or kNN). */
export async function createAnomalyDetector(model: OpenedModel, o: DetectorOptions = {}): Promise<AnomalyDetector> {
  const loaded = await assembleDetector(model.content, {
    name: model.name, where: model.name,
    // Masks are cut where the annotator sees them: at the image's own size (the annotate protocol), unless asked.
    preprocess: o.preprocess ?? { ...(model.preprocess ?? defaultPreprocess(model.content)), protocol: 'annotate' },
    ...(model.manifest?.calibration ? { calibration: model.manifest.calibration } : {}),
    ...(o.encoderWeights ? { encoderWeights: o.encoderWeights } : {}),
    ...(o.onnx ? { onnx: o.onnx } : {}),
  });
  const { detector } = loaded;
  const detect = (image: RgbImage) => imageMap(detector, image, loaded.preprocess, model.name);
  return {
    kind: detector.kind, name: loaded.name, preprocess: loaded.preprocess, runtime: loaded.runtime,
    ...(loaded.calibration ? { calibration: loaded.calibration } : {}),
    detect,
    async propose(image, p = {}) {
      const base = p.calibration ?? loaded.calibration;
      if (!base) throw new InputError('calibration', `${model.name} has no saved calibration: pass one (calibrateFromNormals on normal images' maps)`);
      const calibration = p.sensitivity === undefined ? base : calibrationAt(base, 1 - checkSensitivity(p.sensitivity), 'sensitivity');
      const { map, score } = await detect(image);
      return { ...proposeRegions(map, score, calibration, p.options), map };
    },
    dispose: () => detector.dispose(),
  };
}

/** The method's preprocessing for a model that brings none (a checkpoint): the official one, or the CNN's. */
function defaultPreprocess(c: OpenedModel['content']): PreprocessConfig {
  return c.kind === 'knn' ? cnnPreprocess(c.knn.encoder.kind) : OFFICIAL_PREPROCESS;
}

/** The 0–1 knob a person moves: 0.5 is the calibrated cut. */
function checkSensitivity(s: number): number {
  if (!(s >= 0 && s <= 1)) throw new InputError('sensitivity', `must be between 0 and 1, got ${s}`);
  return s;
}

/** Options of `fitKnn`. */
export interface FitKnnOptions {
  /** The patch encoder; default nsfwjs's MobileNetV2 (blocks 2, 5, 9), whose weights `encoderWeights` must then be. */
  encoder?: CnnEncoderConfig;
  encoderWeights: TensorMap;
  /** Keep the encoder's weights in the model (user-supplied ResNets); nsfwjs's come from its package on load. */
  bundleEncoder?: boolean;
  /** Square input side (default 224) and the greedy coreset's share of the tokens (default 0.01) and seed. */
  size?: number;
  coresetRatio?: number;
  seed?: number;
  name?: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/** Normal images → a training-free kNN (PatchCore-style) model, as `inp-former fit-knn` builds it. */
export async function fitKnn(normals: readonly RgbImage[], o: FitKnnOptions): Promise<OpenedModel> {
  if (normals.length === 0) throw new InputError('normals', 'needs at least one normal image');
  const encoder = o.encoder ?? { kind: 'nsfwjs-mobilenetv2', layers: defaultStages('nsfwjs-mobilenetv2'), localAverage: true };
  const tick = progressCounter('fit', normals.length, (p) => o.onProgress?.(p));
  const { content, preprocess } = await fitKnnModel(encoder, o.encoderWeights, encoder.kind, {
    count: normals.length, load: async (i) => ({ image: normals[i], name: `normals[${i}]` }),
  }, {
    bundleEncoder: o.bundleEncoder ?? false, onProgress: () => tick(),
    ...(o.size ? { size: o.size } : {}), ...(o.coresetRatio ? { coresetRatio: o.coresetRatio } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return { name: o.name ?? `knn-${encoder.kind}`, preprocess, content };
}

/** Options of `trainModel`. */
export interface TrainModelOptions {
  /**
   * What to train: a fresh head on a CNN encoder (`{ encoder, encoderWeights }`: our CNN recipe), or an opened
   * INP-Former to fine-tune (`job: 'finetune'`) or train further.
   */
  from: OpenedModel | { encoder: CnnEncoderConfig; encoderWeights: TensorMap; bundleEncoder?: boolean; size?: number };
  job?: 'train' | 'finetune';
  /** Fine-tune mode (default the best measured: src/train/recipe.ts). */
  mode?: TrainMode;
  /** The CNN encoder's weights where `from` does not hold them (nsfwjs). */
  encoderWeights?: TensorMap;
  /** Overrides of the recipe (steps, batch size, learning rates, seed…). */
  settings?: Omit<JobSettings, 'onProgress' | 'signal' | 'resume' | 'threads' | 'featureStore'>;
  name?: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/** Normal images → a trained (or fine-tuned) INP-Former, with the recipe `inp-former train` / `finetune` use. */
export async function trainModel(normals: readonly RgbImage[], o: TrainModelOptions): Promise<OpenedModel> {
  if (normals.length === 0) throw new InputError('normals', 'needs at least one normal image');
  const job = o.job ?? 'train';
  const mode = job === 'finetune' ? o.mode ?? DEFAULT_FINETUNE_MODE : 'full';
  let start: OpenedModel;
  let encoderWeights = o.encoderWeights;
  if ('content' in o.from) {
    start = o.from;
  } else {
    const size = o.from.size ?? 224;
    const encoder = { ...o.from.encoder, grid: o.from.encoder.grid ?? Math.ceil(size / 8) };
    const config = headConfigFor(encoder);
    const bundled = o.from.bundleEncoder ?? encoder.kind !== 'nsfwjs-mobilenetv2';
    const encoderTensors: TensorMap = bundled ? new Map([...o.from.encoderWeights].map(([k, v]) => [ENCODER_PREFIX + k, v])) : new Map();
    if (!bundled) encoderWeights = o.from.encoderWeights;
    start = {
      name: o.name ?? `inp-former-${encoder.kind}`, preprocess: cnnPreprocess(encoder.kind, size),
      content: { kind: 'inp-former', config, tensors: new Map([...encoderTensors, ...initHead(config, o.settings?.seed ?? 1)]) },
    };
  }
  if (start.content.kind !== 'inp-former') throw new InputError(start.name, `is ${start.content.kind === 'knn' ? 'a kNN model (refit it with fitKnn)' : 'an encoder only'}: there is no INP-Former head to train`);
  const content = start.content;
  const pre = start.preprocess ?? cnnPreprocess('resnet18');
  const recipe = recipeSettings(job, content.config, mode, o.settings?.steps);
  const { content: trained } = await runTrainingJob({
    content, ...(encoderWeights ? { encoderWeights } : {}), preprocess: pre, mode, where: start.name,
    inputs: { count: normals.length, load: (i) => modelInput(normals[i], pre, content.config, `normals[${i}]`) },
    settings: {
      ...recipe, ...o.settings,
      ...(o.onProgress ? { onProgress: (p: Progress) => o.onProgress!(p.stage === 'train' ? { ...p, job } : p) } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    },
  });
  if (!trained) throw new DOMException('training cancelled', 'AbortError');
  return { name: o.name ?? start.name, preprocess: pre, content: trained };
}

/** Options of `refineModel`. */
export interface RefineModelOptions {
  /** Accepted defects: each image with its 0/1 mask at the image's size. */
  defects?: ReadonlyArray<{ image: RgbImage; mask: BinaryMask }>;
  /** The CNN encoder's weights where the model does not hold them (nsfwjs). */
  encoderWeights?: TensorMap;
  /** Optimiser steps (default 200 for a new head, 60 to continue the model's own) and seed. */
  steps?: number;
  seed?: number;
  /** Train a new head even when the model has one. */
  fromScratch?: boolean;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/**
 * A refinement head for a model (INP-Former++ residual learning), as `inp-former refine` trains it: pseudo-anomalies
 * of the normals and the accepted defects, every 4th of each held out. `selection` holds both maps' held-out figures
 * and which one should stay in use (`keep: 'candidate'` = the refined one); `model` is the refined model either way.
 */
export async function refineModel(model: OpenedModel, normals: readonly RgbImage[], o: RefineModelOptions = {}): Promise<{ model: OpenedModel; selection: Selection; summary: string }> {
  if (model.content.kind === 'encoder') throw new InputError(model.name, 'is an encoder only: there is no map to refine');
  const pre = model.preprocess ?? defaultPreprocess(model.content);
  const job = await runRefineJob({
    content: model.content, preprocess: pre, where: model.name, normals, defects: o.defects ?? [],
    ...(o.encoderWeights ? { encoderWeights: o.encoderWeights } : {}), ...(o.fromScratch ? { fromScratch: true } : {}),
    train: { ...(o.steps ? { steps: o.steps } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.signal ? { signal: o.signal } : {}) },
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  return { model: { name: model.name, preprocess: pre, content: job.content }, selection: job.selection, summary: job.summary };
}

/** A model as a model folder's files in memory (manifest.json + weights.safetensors): save them anywhere, open them with `openModel`. */
export async function saveModel(model: OpenedModel, o: { name?: string; calibration?: Calibration } = {}): Promise<Map<string, Uint8Array>> {
  const pre = model.preprocess ?? (model.content.kind === 'knn' ? cnnPreprocess(model.content.knn.encoder.kind) : undefined);
  if (!pre) throw new InputError(model.name, 'has no preprocessing to save (a checkpoint): pass one when creating its detector');
  const calibration = o.calibration ?? model.manifest?.calibration;
  const built: BuiltModelFolder = await buildModelFolder(model.content, { name: o.name ?? model.name, preprocess: pre, ...(calibration ? { calibration } : {}) });
  return new Map([[MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(built.manifest, null, 2)}\n`)], ...built.files]);
}
