import * as tf from '@tensorflow/tfjs';
import { cnnPreprocess, createPatchEncoder } from '../encoder/patch-encoder.ts';
import { InputError } from '../errors.ts';
import { createInpFormer, type PredictInput, type PredictOptions, type PredictResult } from '../inp-former/predict.ts';
import { encoderTensorsOf } from '../inp-former/frozen-encoder.ts';
import { bankFromTensors, createKnnDetector } from '../knn/knn.ts';
import type { ModelContent } from '../model-folder/manifest.ts';
import { OFFICIAL_PREPROCESS } from '../preprocess/preprocess.ts';
import type { PreprocessConfig, TensorMap } from '../types.ts';

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
  predict(input: PredictInput, opts: PredictOptions): Promise<PredictResult>;
  dispose(): void;
}

/**
 * Builds the detector of a model folder or checkpoint's content. `encoderWeights` supplies a kNN model's encoder
 * when the folder does not hold it (the nsfwjs MobileNetV2, read from the installed package).
 */
export function createDetector(content: ModelContent, o: { preprocess?: PreprocessConfig; encoderWeights?: TensorMap; where: string }): Detector {
  if (content.kind === 'encoder') throw new InputError(o.where, 'is an encoder only (no INP-Former head): train a model with it, or fit a kNN detector (inp-former fit-knn)');
  if (content.kind === 'inp-former') {
    const model = createInpFormer(content.config, content.tensors, { where: o.where, ...(o.encoderWeights ? { encoderWeights: o.encoderWeights } : {}) });
    return {
      kind: 'inp-former', preprocess: o.preprocess ?? OFFICIAL_PREPROCESS, inputMultiple: model.inputMultiple,
      predict: (x, p) => model.predict(x, p), dispose: () => model.dispose(),
    };
  }
  const weights = o.encoderWeights ?? encoderTensorsOf(content.tensors);
  const encoder = createPatchEncoder(content.knn.encoder, weights, o.where);
  const knn = createKnnDetector(encoder, bankFromTensors(content.tensors, content.knn, o.where));
  return {
    kind: 'knn', preprocess: o.preprocess ?? cnnPreprocess(content.knn.encoder.kind), inputMultiple: 1,
    async predict(input, p) {
      const x = input instanceof tf.Tensor ? input : tf.tensor4d(input.data, input.shape);
      try {
        return await knn.predict(x, p);
      } finally {
        if (x !== input) x.dispose();
      }
    },
    dispose() {
      knn.dispose();
      encoder.dispose();
    },
  };
}
