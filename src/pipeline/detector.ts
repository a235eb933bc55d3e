import * as tf from '@tensorflow/tfjs';
import { createPatchEncoder } from '../encoder/patch-encoder.ts';
import { cnnPreprocess } from '../encoder/cnn-config.ts';
import { InputError } from '../errors.ts';
import { createInpFormer, type PredictOptions, type PredictResult } from '../inp-former/predict.ts';
import { disposeRefine, uploadRefine, type RefineParams } from '../refine/head.ts';
import { inpFormerResidual, knnResidual, refinedPredict, type ResidualSource } from '../refine/refined.ts';
import { inputMultipleOf } from '../inp-former/frozen-encoder.ts';
import { encoderTensorsOf } from '../inp-former/frozen-encoder.ts';
import { bankFromTensors, createKnnDetector } from '../knn/knn.ts';
import type { ModelContent } from '../model-folder/manifest.ts';
import { OFFICIAL_PREPROCESS } from '../preprocess/preprocess.ts';
import type { Calibration, PreprocessConfig, RefineConfig, TensorMap } from '../types.ts';
import type { ModelInput } from './train-job.ts';

/**
 * What `predict`, `eval`, `annotate` and the servers run: an INP-Former or a kNN detector behind one interface.
 * The image score is each method's own: INP-Former's top-1 % mean, PatchCore's max.
 */
export interface Detector {
  readonly kind: 'inp-former' | 'knn';
  /** Preprocessing the model was built with (the model folder's, or the method's default for a checkpoint). */
  readonly preprocess: PreprocessConfig;
  /** Inputs must be a multiple of this many pixels (the ViT patch; 1 for CNNs). */
  readonly inputMultiple: number;
  /** Whether the maps come through a refinement head (INP-Former++ residual learning). */
  readonly refined: boolean;
  /** Plain arrays in and out: the input a normalised NCHW batch, the maps and scores typed arrays. */
  predict(input: ModelInput, opts: PredictOptions): Promise<PredictResult>;
  dispose(): void;
}

/** Runs a batch through the refined chain when the model has a head (and the raw map was not asked for). */
function refinedOr(
  head: { source: ResidualSource; params: RefineParams; config: RefineConfig } | undefined,
  raw: (x: tf.Tensor4D, p: PredictOptions) => Promise<PredictResult>,
): (input: ModelInput, p: PredictOptions) => Promise<PredictResult> {
  return async (input, p) => {
    const x = tf.tensor4d(input.data, input.shape);
    try {
      // The zero-shot map and a trainer's own head are views of the raw model: the head was trained on neither.
      return head && !p.zeroShot && !p.head ? await refinedPredict(head.source, head.params, head.config, x, p) : await raw(x, p);
    } finally {
      x.dispose();
    }
  };
}

/**
 * Builds the detector of a model folder or checkpoint's content. `encoderWeights` supplies a kNN model's encoder
 * when the folder does not hold it (the nsfwjs MobileNetV2, read from the installed package). A model with a
 * refinement head maps through it unless `raw` asks for the detector's own map.
 */
export function createDetector(content: ModelContent, o: { preprocess?: PreprocessConfig; encoderWeights?: TensorMap; where: string; raw?: boolean }): Detector {
  if (content.kind === 'encoder') throw encoderOnly(o.where);
  const refine = !o.raw ? content.refine : undefined;
  const params = refine ? uploadRefine(refine.tensors) : undefined;
  const disposeHead = () => { if (params) disposeRefine(params); };
  if (content.kind === 'inp-former') {
    const model = createInpFormer(content.config, content.tensors, { where: o.where, ...(o.encoderWeights ? { encoderWeights: o.encoderWeights } : {}) });
    const head = refine && params ? { source: inpFormerResidual(model), params, config: refine.config } : undefined;
    return {
      kind: 'inp-former', preprocess: o.preprocess ?? OFFICIAL_PREPROCESS, inputMultiple: model.inputMultiple, refined: !!head,
      predict: refinedOr(head, (x, p) => model.predict(x, p)),
      dispose: () => { disposeHead(); model.dispose(); },
    };
  }
  const weights = o.encoderWeights ?? encoderTensorsOf(content.tensors);
  const encoder = createPatchEncoder(content.knn.encoder, weights, o.where);
  const knn = createKnnDetector(encoder, bankFromTensors(content.tensors, content.knn, o.where));
  const head = refine && params ? { source: knnResidual(knn), params, config: refine.config } : undefined;
  return {
    kind: 'knn', preprocess: o.preprocess ?? cnnPreprocess(content.knn.encoder.kind), inputMultiple: 1, refined: !!head,
    predict: refinedOr(head, (x, p) => knn.predict(x, p)),
    dispose() {
      disposeHead();
      knn.dispose();
      encoder.dispose();
    },
  };
}

/** A detector of a model's content on an ONNX runtime (onnxruntime-node in Node): what a platform supplies. */
export type OnnxDetectorFactory = (
  content: Exclude<ModelContent, { kind: 'encoder' }>, o: { where: string; encoderWeights?: TensorMap },
) => Promise<{ predict(x: ModelInput, o: PredictOptions): Promise<PredictResult>; dispose(): unknown }>;

/** A ready detector and what it was loaded with. */
export interface LoadedDetector {
  detector: Detector;
  name: string;
  preprocess: PreprocessConfig;
  calibration?: Calibration;
  /** What runs it: "onnxruntime-node" or "tfjs <backend>". */
  runtime: string;
}

/**
 * The one place a model's content becomes a detector: on the platform's ONNX runtime when one is given (the
 * CLI's default in Node), else on tfjs. Preprocessing: the model folder's, else the method's default.
 */
export async function assembleDetector(content: ModelContent, o: {
  name: string; where: string; preprocess?: PreprocessConfig; calibration?: Calibration; encoderWeights?: TensorMap;
  onnx?: { create: OnnxDetectorFactory; runtime: string };
  /** The detector's own map even when the model has a refinement head. */
  raw?: boolean;
}): Promise<LoadedDetector> {
  if (content.kind === 'encoder') throw encoderOnly(o.where);
  const refined = !!content.refine && !o.raw;
  // A refined folder's saved calibration is the refined map's: it does not apply to the raw one.
  const calibration = o.calibration && (refined || !content.refine) ? { calibration: o.calibration } : {};
  const weights = o.encoderWeights ? { encoderWeights: o.encoderWeights } : {};
  const preprocess = o.preprocess ?? (content.kind === 'knn' ? cnnPreprocess(content.knn.encoder.kind) : OFFICIAL_PREPROCESS);
  if (o.onnx) {
    const used = refined || !content.refine ? content : { ...content, refine: undefined };
    const model = await o.onnx.create(used, { where: o.where, ...weights });
    const detector: Detector = {
      kind: content.kind, preprocess, inputMultiple: content.kind === 'knn' ? 1 : inputMultipleOf(content.config.encoder), refined,
      predict: (x, q) => model.predict(x, q), dispose: () => void model.dispose(),
    };
    return { detector, name: o.name, preprocess, runtime: o.onnx.runtime, ...calibration };
  }
  const detector = createDetector(content, { where: o.where, preprocess, raw: !refined, ...weights });
  return { detector, name: o.name, preprocess, runtime: `tfjs ${tf.getBackend()}`, ...calibration };
}

function encoderOnly(where: string): InputError {
  return new InputError(where, 'is an encoder only (no INP-Former head): train a model with it, or fit a kNN detector (inp-former fit-knn)');
}
