import * as tf from '@tensorflow/tfjs';
import { expectedHeadShapes } from '../checkpoint/load.ts';
import { ENCODER_PREFIX, inputMultipleOf } from '../inp-former/frozen-encoder.ts';
import { createInpFormer } from '../inp-former/predict.ts';
import type { ModelContent } from '../model-folder/manifest.ts';
import { preprocess, stackBatch } from '../preprocess/preprocess.ts';
import type { TrainMode } from '../train/recipe.ts';
import { CNN_RECIPE, FINETUNE_RECIPES } from '../train/recipe.ts';
import { train, type TrainOptions, type TrainResult } from '../train/trainer.ts';
import type { InpFormerConfig, PreprocessConfig, RgbImage, TensorMap } from '../types.ts';

/** A preprocessed model input, NCHW (one image: [1, 3, H, W]). Plain data: what crosses the API instead of a tensor. */
export interface ModelInput { data: Float32Array; shape: [number, number, number, number] }

/** One decoded image → its model input under `pre` (the model's patch multiple checked). */
export function modelInput(image: RgbImage, pre: PreprocessConfig, config: InpFormerConfig | undefined, where: string): ModelInput {
  const multiple = config ? inputMultipleOf(config.encoder) : 1;
  return stackBatch([preprocess(image, pre, multiple > 1 ? multiple : undefined, where)]);
}

/** What a training job starts from: an INP-Former's content (encoder tensors and the head to start from). */
export type InpFormerContent = Extract<ModelContent, { kind: 'inp-former' }>;

/** The head of a model's tensors (official names), e.g. to continue from a trained model. */
export function headOf(tensors: TensorMap, config: InpFormerConfig): TensorMap {
  return new Map([...expectedHeadShapes(config).keys()].map((k) => [k, tensors.get(k)!]));
}

/** The encoder's tensors of a model (`encoder.` names kept): what a trained head is merged back with. */
export function encoderPart(tensors: TensorMap): TensorMap {
  return new Map([...tensors].filter(([k]) => k.startsWith(ENCODER_PREFIX)));
}

/** The run settings a caller may set; everything else is the trainer's. */
export type JobSettings = Omit<TrainOptions, 'encoder' | 'config' | 'init' | 'data' | 'mode'>;

/**
 * The recipe a job gets unless the caller overrides it: our CNN recipe to train a head on a CNN encoder, the
 * fine-tune recipe of the mode to continue one, the trainer's own defaults (the official recipe) for DINOv2.
 * `steps`, when the caller runs another number, replaces the recipe's; a recipe's warm-up never takes more than a
 * quarter of the run.
 */
export function recipeSettings(job: 'train' | 'finetune', config: InpFormerConfig, mode: TrainMode, steps?: number): JobSettings {
  const r = job === 'finetune' ? FINETUNE_RECIPES[mode] : config.encoder.kind !== 'dinov2' ? CNN_RECIPE : undefined;
  if (!r) return { batchSize: 16, ...(steps !== undefined ? { steps } : {}) };
  const run = steps ?? r.steps;
  return {
    steps: run, batchSize: r.batch, lr: r.lr, finalLr: r.finalLr, warmupSteps: Math.min(r.warmup, Math.floor(run / 4)),
    ...('tokenLr' in r ? { tokenLr: r.tokenLr } : {}),
  };
}

export interface TrainingJob {
  /** The model to train: encoder tensors plus the head to start from (a fresh `initHead` or a trained head). */
  content: InpFormerContent;
  /** A CNN encoder's weights where the content does not hold them (nsfwjs, from its package). */
  encoderWeights?: TensorMap;
  preprocess: PreprocessConfig;
  mode: TrainMode;
  /** The normals, as model inputs: `count` of them, each loaded when the trainer encodes it (keyed for a feature store). */
  inputs: { count: number; load(index: number): ModelInput | Promise<ModelInput>; key?(index: number): Promise<string> };
  settings: JobSettings;
  /** Names the model in errors. */
  where: string;
}

export interface TrainedJob {
  /** The trained model: the job's encoder tensors and the trained head (unset when the run was cancelled). */
  content?: InpFormerContent;
  run: TrainResult;
}

/**
 * The one training path: the CLI's train and finetune, the Label Studio backend's fine-tune and the workspace's
 * worker all run this. Frozen encoder + head from `content`, inputs encoded once, then `train`.
 */
export async function runTrainingJob(job: TrainingJob): Promise<TrainedJob> {
  const { config, tensors } = job.content;
  const model = createInpFormer(config, tensors, { where: job.where, ...(job.encoderWeights ? { encoderWeights: job.encoderWeights } : {}) });
  try {
    const run = await train({
      ...job.settings, encoder: model, config, init: headOf(tensors, config), mode: job.mode,
      data: {
        count: job.inputs.count,
        load: async (i) => {
          const x = await job.inputs.load(i);
          return tf.tensor4d(x.data, x.shape);
        },
        ...(job.inputs.key ? { key: job.inputs.key } : {}),
      },
    });
    if (run.cancelled) return { run };
    return { run, content: { kind: 'inp-former', config, tensors: new Map([...encoderPart(tensors), ...run.head]) } };
  } finally {
    model.dispose();
  }
}
