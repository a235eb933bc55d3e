import type { Selection } from '../selection/validate.ts';
import type { BinaryMask } from '../image/mask.ts';
import type { AnomalyMap, BackendName, EngineName, ImageSource, Progress, RgbImage, WebOnnxProvider } from '../types.ts';

export type { EngineName };

/**
 * Messages between the page and the model worker (model-worker.ts). Plain data only (structured clone); maps and
 * images travel as transferred buffers. Every request has a sequence number; the worker answers it exactly once
 * (`ok` or `error`) and may send `progress` for it before that. `cancel` aborts a running fit or training.
 */

export interface ModelInfo {
  kind: 'none' | 'knn' | 'inp-former';
  /** Short name shown in the model card. */
  name: string;
  /** One line on what it is and where its weights come from. */
  description: string;
  license: string;
  /** Normal images in the memory bank (kNN) or seen in the latest training. */
  normals: number;
  /** Model input side in pixels (images are squashed to it). */
  inputSize: number;
  /** Changes whenever predictions may change: raw maps of another version are stale. */
  version: string;
  /** Fine-tuning needs an INP-Former head (training starts one on the nsfwjs encoder when there is none). */
  trainable: boolean;
  /** What runs its predictions. */
  engine: EngineStatus;
}

/** Prediction engines: tfjs (the default), or our ONNX export of the model in use on onnxruntime-web. */
export interface EngineChoice { engine: EngineName; providers?: WebOnnxProvider[] }
export interface EngineStatus {
  engine: EngineName;
  /** onnxruntime-web's execution provider (engine 'onnx'). */
  provider?: WebOnnxProvider;
  /** Why onnxruntime-web is not running the model although it was asked for (predictions fell back to tfjs). */
  failure?: string;
  /** Providers onnxruntime-web skipped, and why. */
  skipped?: string[];
}

/**
 * What an INP-Former's model card says beyond its weights, and its version: saved with a head trained here, so a
 * reload shows the same card and the maps saved under that version stay valid.
 */
export interface InpCard {
  name: string;
  license: string;
  about: string;
  /** "Head trained here on 8 normals (200 steps)": the latest full training. */
  trained?: string;
  /** The latest INP-token fine-tuning since then. */
  tuned?: string;
  normals: number;
  version: string;
}

export type ModelFiles = Array<{ name: string; bytes: Uint8Array }>;
/** A head trained or fine-tuned here: its model folder (manifest.json + weights.safetensors) and its card. */
export interface TrainedModel { files: ModelFiles; card: InpCard }

export interface DecodedImage { width: number; height: number; workWidth: number; workHeight: number; image: RgbImage }
/** `engine`: what computed this map (it differs from the model's when onnxruntime-web failed on it and tfjs took over). */
export interface MapResult { id: string; map: AnomalyMap; score: number; ms: number; engine: EngineStatus }
export interface FitResult { info: ModelInfo; normals: MapResult[] }

export type WorkerRequest =
  /** `backends`: tried in this order; absent, the default order with software GPU adapters skipped (they are slower than wasm). */
  | { type: 'init'; backends?: BackendName[]; inputSize: number; engine?: EngineChoice }
  /** Registers an image and returns it at its working size for display. */
  | { type: 'decode'; id: string; name: string; source: ImageSource; bytes?: Uint8Array }
  /** Builds the kNN memory bank from these normal images; answers with held-out maps of the normals. */
  | { type: 'fit'; normals: string[] }
  | { type: 'predict'; id: string }
  /** A model folder (manifest.json + weights) or a checkpoint (.pth / .safetensors); `card`: a head trained here, restored. */
  | { type: 'load-model'; files: ModelFiles; card?: InpCard }
  /** Drops the model in use (the page fits the kNN detector next): the way back from an INP-Former. */
  | { type: 'drop-model' }
  /** Switches the prediction engine; the model in use is exported to ONNX for onnxruntime-web. */
  | { type: 'engine'; choice: EngineChoice }
  /**
   * 'train' trains the whole head (a fresh one on the nsfwjs encoder when no INP-Former is in use) with our CNN recipe;
   * 'finetune' fine-tunes the one in use in the default fine-tune mode (src/train/recipe.ts). The result is kept
   * only if it validates better (TrainResult).
   */
  | { type: 'train'; job: 'train' | 'finetune'; normals: string[]; steps: number }
  /**
   * Trains a refinement head (INP-Former++ residual learning) for the model in use from the normals' pseudo-anomalies
   * and the accepted defects (their union mask at the working size); continues from the head in use when there is
   * one. The refined map is used only if it validates better (RefineResult).
   */
  | { type: 'refine'; normals: string[]; defects: Array<{ id: string; mask: BinaryMask }>; steps: number }
  /** The worker's tfjs memory (devtools, tests: tensors must not pile up across jobs). */
  | { type: 'memory' }
  | { type: 'cancel'; target: number };

export interface InitResult { backend: BackendName; failures: string[]; info: ModelInfo }
/** `onnxSessions`: onnxruntime-web sessions alive (one at most: a replaced one is released). */
export interface WorkerMemory { numTensors: number; numBytes: number; onnxSessions: number }
/**
 * A training's outcome: the model in use afterwards (the trained one only if it validated better), the trained
 * model's folder whichever was kept, both detectors' validation figures, and the normals the run used (trained on, or held out to validate).
 */
export interface TrainResult { info: ModelInfo; model: TrainedModel; selection: Selection; trainedOn: string[] }

/**
 * A refinement's outcome: the model in use afterwards, both maps' held-out figures, and what it trained on. When a
 * refined kNN is put in use, `normalMaps` are the normals' refined maps from banks of the other normals (as a fit's).
 */
export interface RefineResult { info: ModelInfo; selection: Selection; normals: number; defects: number; steps: number; normalMaps: MapResult[] }

export interface ResultOf {
  init: InitResult;
  decode: DecodedImage;
  fit: FitResult;
  predict: MapResult;
  'load-model': ModelInfo;
  'drop-model': ModelInfo;
  engine: ModelInfo;
  train: TrainResult;
  refine: RefineResult;
  memory: WorkerMemory;
  cancel: null;
}

export type WorkerMessage =
  | { seq: number; kind: 'ok'; value: unknown }
  | { seq: number; kind: 'error'; message: string }
  | { seq: number; kind: 'progress'; progress: Progress };
