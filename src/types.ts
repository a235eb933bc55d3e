/**
 * Boundary types: plain data only, so they cross workers, HTTP and postMessage unchanged.
 * Everything that enters from outside (files, JSON, flags) is validated into these shapes.
 */

/** Element types we read from checkpoints. Everything numeric is widened to float32 for the model. */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** A tensor on the host: shape + typed data. Float dtypes are always decoded to Float32Array (F64 stays F64). */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array;
}

/** Named tensors in file order (Map keeps insertion order). */
export type TensorMap = Map<string, HostTensor>;

/** 8-bit RGB image, row-major, interleaved. Every decoder converts to this (Pillow's convert('RGB')). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array; // length width*height*3
}

/** DINOv2 ViT encoder (official layout, patch 14, LayerScale, optional registers). */
export interface VitEncoderConfig {
  kind: 'dinov2';
  embedDim: number;
  depth: number;
  numHeads: number;
  patchSize: number;
  registerTokens: number;
  /** Side of the stored positional grid (37 for img_size 518). */
  posGridSize: number;
  mlpRatio: number;
  /** LayerNorm epsilon inside the encoder (1e-6). */
  lnEps: number;
  /** DINOv2 interpolate_offset (0.1). */
  interpolateOffset: number;
}

export type CnnEncoderKind = 'resnet18' | 'resnet50' | 'wide_resnet50_2' | 'nsfwjs-mobilenetv2';

/** A frozen CNN as a patch-token encoder: stages resampled to one grid and concatenated (PatchCore's features). */
export interface CnnEncoderConfig {
  kind: CnnEncoderKind;
  /** Stage names, shallow first (layer1..layer4, or MobileNetV2's expanded_conv, block_1..block_10). */
  layers: string[];
  /** PatchCore's 3×3 neighbourhood average of every stage before resampling. */
  localAverage: boolean;
  /** Token grid side; default the first stage's size. */
  grid?: number;
}

/** The frozen encoder of an INP-Former: a DINOv2 ViT, or a CNN whose concatenated stages form one token layer. */
export type EncoderConfig = VitEncoderConfig | CnnEncoderConfig;

/** Everything that defines an INP-Former: nothing is inferred from names. */
export interface InpFormerConfig {
  architecture: 'inp-former';
  encoder: EncoderConfig;
  /** Width of the INP extractor, bottleneck and decoder (= the encoder's token width). */
  embedDim: number;
  /** Heads of the extractor and decoder blocks. */
  numHeads: number;
  /** Number of INP tokens M. */
  inpCount: number;
  /** Number of INP-guided decoder blocks. */
  decoderDepth: number;
  /** 0-based encoder block indices whose outputs are tapped ([0] for a CNN: its one token layer). */
  targetLayers: number[];
  /** Groups over the tapped layers (indices into targetLayers). */
  fuseEncoder: number[][];
  /** Groups over the reversed decoder outputs. */
  fuseDecoder: number[][];
  mlpRatio: number;
  /** LayerNorm epsilon in extractor and decoder (1e-8). */
  lnEps: number;
}

export type Protocol = 'official' | 'annotate';

export interface PreprocessConfig {
  protocol: Protocol;
  /** official: Pillow resize to resize×resize, then centre crop to crop×crop. annotate: squash to resize×resize. */
  resize: number;
  crop: number;
  /** Size of the evaluation map under the official protocol. */
  mapSize: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** Threshold calibration saved with a model (filled by the masks issue). */
export interface Calibration {
  method: 'normals-quantile' | 'f1-adaptive' | 'manual';
  pixelThreshold: number;
  imageThreshold?: number;
  /** Range of the pixel scores the threshold normalises against (anomalib: threshold → 0.5). */
  min: number;
  max: number;
  /** Range of the image scores, when it was measured (image scores normalise with it, else with min/max). */
  imageMin?: number;
  imageMax?: number;
  /** What the calibration was computed from (quantile, counts, F1…). */
  inputs?: Record<string, unknown>;
}

export interface ModelFileEntry {
  sha256: string;
  bytes: number;
}

/** A training-free PatchCore-style detector: nearest-neighbour distance to a memory bank of normal patch tokens. */
export interface KnnConfig {
  encoder: CnnEncoderConfig;
  /** Rows of the `memory_bank` tensor [bankSize, dim]. */
  bankSize: number;
  dim: number;
  /** Fraction of the normal tokens kept by the greedy coreset (1 = all), and its seed. */
  coresetRatio: number;
  seed: number;
  /** How many normal images the bank was built from. */
  images: number;
}

/**
 * The refinement head of INP-Former++ (residual learning) on a detector: a small segmentation network on the
 * detector's per-token residual features, trained on pseudo-anomalies and accepted masks. Its weights live in
 * `refine.safetensors` beside the detector's, which it never changes.
 */
export interface RefineConfig {
  /** Channels of the residual features: the detector's token width + 1 (its raw map). */
  inputDim: number;
  /** Widths of the input projection and of the two 2× transposed convolutions. */
  widths: [number, number, number];
  /** The raw map is divided by this (its level on the training normals) before it is averaged with the head. */
  rawScale: number;
  /** What the head was trained on, and how it and the raw map scored on held-out images. */
  training: { normals: number; masks: number; steps: number; seed: number };
  validation?: { raw: number; refined: number; what: string };
}

/** manifest.json of our model folder. */
export interface ModelManifest {
  format: 'inp-former-model';
  formatVersion: 1;
  name: string;
  /** An INP-Former (encoder + head), a bare encoder (a converted DINOv2, for training) or a kNN detector. */
  kind: 'inp-former' | 'encoder' | 'knn';
  /** Present when kind is 'inp-former'. */
  config?: InpFormerConfig;
  /** Present when kind is 'encoder'. */
  encoder?: VitEncoderConfig;
  /** Present when kind is 'knn'. */
  knn?: KnnConfig;
  preprocess: PreprocessConfig;
  calibration?: Calibration;
  /** Present when a refinement head (refine.safetensors) sharpens the detector's map. */
  refine?: RefineConfig;
  /** weights.safetensors (and any other file), each with sha256 and size. */
  files: Record<string, ModelFileEntry>;
  source?: { file: string; format: string };
}

/** A single-channel float map, row-major. */
export interface AnomalyMap {
  width: number;
  height: number;
  data: Float32Array;
}

export interface Prediction {
  /** Reconstruction map (or the zero-shot map when zeroShot was asked for). */
  map: AnomalyMap;
  /** Mean of the top 1 % of the map. */
  score: number;
}

/** The procedural sample surfaces and defects (offline demo images). */
export type SurfaceKind = 'brushed-metal' | 'fabric' | 'circuit' | 'turned-part';
export type DefectKind = 'scratch' | 'hole' | 'stain' | 'crack';

/** Where an image's pixels come from: a built-in procedural sample, or a user file kept in the store. */
export type ImageSource =
  | { kind: 'sample'; surface: SurfaceKind; defect: DefectKind | null; seed: number; size: number }
  | { kind: 'file'; type: string };

/** Prediction engines in the browser: tfjs (the default), or our ONNX export on onnxruntime-web. */
export type EngineName = 'tfjs' | 'onnx';
/** onnxruntime-web's execution providers we use. */
export type WebOnnxProvider = 'webgpu' | 'wasm';
/** tfjs backends. */
export type BackendName = 'cpu' | 'wasm' | 'webgl' | 'webgpu';

/**
 * The one progress event of every long operation (download, encode, fit, train, validate), from the trainer up to
 * the UI: plain data, so it crosses the worker boundary unchanged. pipeline/progress.ts turns it into a line.
 */
export type Progress =
  | { stage: 'download'; file: string; loaded: number; total: number }
  | { stage: 'encode' | 'fit' | 'validate' | 'refine'; done: number; total: number; elapsedSeconds?: number; etaSeconds?: number; detail?: string }
  | {
    stage: 'train'; step: number; steps: number; epoch: number;
    loss: number; softMining: number; coherence: number; lr: number; gradNorm: number;
    imagesPerSecond: number; elapsedSeconds: number; etaSeconds: number;
    /** What the run is for, where a caller labels it (a fine-tune is a short train). */
    job?: 'train' | 'finetune';
  };
