/**
 * inp-former-annotate: anomaly pre-annotation with INP-Former and a training-free kNN, in TensorFlow.js.
 * The platform-free part of the public API (Node and browsers): models from bytes, detection on decoded pixels,
 * proposals, calibration, training, and the COCO / PNG / Label Studio / CVAT writers. Node's file system and
 * onnxruntime-node are in `inp-former-annotate/node`; the browser's assets in `inp-former-annotate/web`.
 * No side effects on import.
 */
export type {
  AnomalyMap, BackendName, Calibration, CnnEncoderConfig, CnnEncoderKind, InpFormerConfig, KnnConfig, ModelManifest,
  PreprocessConfig, Progress, RgbImage, TensorMap,
} from './types.ts';
export type { BinaryMask } from './image/mask.ts';
export { CheckpointError, InputError } from './errors.ts';

// Images
export { decodeImage } from './image/decode.ts';
export { encodePng } from './image/encode-png.ts';

// Models
export { openModel, type ModelSource, type OpenedModel } from './model-folder/open.ts';
export { parseEncoderSpec } from './encoder/cnn-config.ts';
export { useBackend } from './runtime/backend.ts';
export {
  createAnomalyDetector, fitKnn, openModelUrl, refineModel, saveModel, trainModel,
  type AnomalyDetector, type Detection, type DetectorOptions, type FitKnnOptions, type RefineModelOptions, type TrainModelOptions,
} from './pipeline/api.ts';
export type { OnnxDetectorFactory } from './pipeline/detector.ts';
export { progressLine, type ProgressLine } from './pipeline/progress.ts';

// Map → threshold → regions
export { calibrateF1Adaptive, calibrateFromNormals, manualCalibration } from './threshold/strategies.ts';
export { normalizeMap } from './threshold/calibration.ts';
export { proposeRegions, toAnnotatedImage, type ProposalOptions, type ProposalRegion, type Proposals } from './annotate/proposals.ts';

// Export formats (in memory; Node's file writers are in /node)
export type { AnnotatedImage, AnnotatedRegion, ExportSource } from './export/annotations.ts';
export { buildCocoDocument, parseCocoDocument, type CocoDocument } from './export/coco-document.ts';
export { decodeCocoRle, encodeCocoRle, type CocoRle } from './export/coco-rle.ts';
export { buildMaskPngs } from './export/png-masks.ts';
export { buildLabelStudioTasks, labelStudioConfig, parseLabelStudioTasks, type LabelStudioTask } from './export/labelstudio-tasks.ts';
export { decodeLabelStudioRle, encodeLabelStudioRle } from './export/labelstudio-rle.ts';
export { buildCvatXml, parseCvatXml } from './export/cvat-xml.ts';
export { encodeCvatMask } from './export/cvat-rle.ts';
