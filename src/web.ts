/**
 * inp-former-annotate/web: the page's side of the library, without tfjs — the model worker's client and its
 * protocol (the worker holds tfjs and every tensor, so a page never freezes and its bundle stays light), plain-array
 * proposals, calibration and exporters, the working-size policy, the sample surfaces of the offline demo, the
 * recipes the panel offers. The elements in components/ import src/ only through this file, and nothing it reaches
 * imports tfjs or onnxruntime (both checked by the layer rules).
 */
export type {
  AnomalyMap, BackendName, Calibration, DefectKind, EngineName, ImageSource, Progress, RgbImage, SurfaceKind, WebOnnxProvider,
} from './types.ts';
export type { BinaryMask } from './image/mask.ts';
export { InputError } from './errors.ts';
export { progressLine, type ProgressLine } from './pipeline/progress.ts';
export { calibrateF1Adaptive, calibrateFromNormals } from './threshold/strategies.ts';
export { proposeRegions, type ProposalRegion, type Proposals } from './annotate/proposals.ts';
export type { AnnotatedImage, AnnotatedRegion } from './export/annotations.ts';
export { buildCocoDocument } from './export/coco-document.ts';
export { decodeCocoRle, encodeCocoRle } from './export/coco-rle.ts';
export { buildMaskPngs } from './export/png-masks.ts';
export { buildLabelStudioTasks } from './export/labelstudio-tasks.ts';
export { buildCvatXml } from './export/cvat-xml.ts';
export { ModelClient, type Pending } from './worker/client.ts';
export type {
  DecodedImage, EngineChoice, EngineStatus, FitResult, InitResult, InpCard, MapResult, ModelFiles, ModelInfo, RefineResult, ResultOf, TrainedModel,
  TrainResult, WorkerMemory, WorkerRequest,
} from './pipeline/model-protocol.ts';
export { resizeMask, workingSize, WORK_MAX } from './image/working-size.ts';
export { imageDimensions } from './image/dimensions.ts';
export { jpegOrientation } from './image/exif.ts';
export { makeSample, makeSampleSet, SURFACE_KINDS, DEFECT_KINDS, type Sample } from './samples/surfaces.ts';
export { describeFigures, type Selection } from './selection/validate.ts';
export { HOLD_OUT_EVERY } from './selection/held-out.ts';
export { CNN_RECIPE, DEFAULT_FINETUNE_MODE, FINETUNE_RECIPES } from './train/recipe.ts';
export { REFINE_STEPS } from './refine/config.ts';
export { rawThreshold, type ThresholdCalibration } from './threshold/calibration.ts';
export { calibrationAt } from './threshold/confidence.ts';
export type { AcceptedSample } from './threshold/strategies.ts';
export { MANIFEST_FILE, parseManifest } from './model-folder/manifest.ts';
export { fetchBytes, fetchModelFiles, type FileGetter } from './model-folder/fetch.ts';
