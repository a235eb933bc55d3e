import { InputError } from '../errors.ts';

/** Which head tensors a run trains: the whole head, or (fine-tune) the INP tokens, optionally with the extractor. */
export type TrainMode = 'full' | 'tokens' | 'tokens+extractor';
export const TRAIN_MODES: readonly TrainMode[] = ['full', 'tokens', 'tokens+extractor'];

/**
 * Our training recipe for INP-Formers over CNN token encoders (ResNets, the nsfwjs MobileNetV2). It differs from
 * the official DINOv2 recipe, which stays exact for DINOv2 (parity fixtures), in what 2 CPU cores can afford in
 * minutes and what narrow CNN tokens need (models/inp-former-cnn.md, measured in BENCHMARKS.md "train-cnn"):
 * - heads of 8 channels and 12 INPs: a decoder block without its attention residual passes a token on only through
 *   its ReLU attention weights to the INPs (heads × INPs numbers); at 128 channels the official 32-channel heads and
 *   6 INPs leave 24 of them, too few to rebuild normal CNN tokens, and training crawled;
 * - a short schedule at a higher peak learning rate: 380 steps of 8 images, ≈ 2 s each on 2 cores at 28×28 tokens
 *   and 128 channels, so a category trains in under 15 minutes including encoding.
 */
export const CNN_RECIPE = {
  /** Channels per attention head (extractor and decoder). */
  headDim: 8,
  inpCount: 12,
  decoderDepth: 4,
  steps: 380,
  batch: 8,
  lr: 2e-3,
  finalLr: 2e-4,
  warmup: 20,
} as const;

/** Which head tensors a fine-tune trains by default, and each mode's defaults. */
export interface FineTuneRecipe { steps: number; batch: number; lr: number; finalLr: number; warmup: number; tokenLr: number }

/**
 * Fine-tuning defaults per mode: 20 steps of 8 images (≈ 2 s each on 2 cores, whatever the mode: the gradient of
 * the INP tokens still runs back through the whole decoder), so a fine-tune on 8 normals takes under a minute with
 * loading and encoding. The learning rates are what can move each part in the default steps: the INP
 * tokens start N(0, 1), so at the training's 1e-3 (≈ 1e-3 per element and step under Adam) 50 steps would shift
 * them by ~5 % of their norm — which is why the old default changed nothing; they get `tokenLr` in every mode.
 */
export const FINETUNE_RECIPES: Record<TrainMode, FineTuneRecipe> = {
  tokens: { steps: 20, batch: 8, lr: 5e-2, finalLr: 5e-3, warmup: 0, tokenLr: 5e-2 },
  'tokens+extractor': { steps: 20, batch: 8, lr: 5e-3, finalLr: 5e-4, warmup: 0, tokenLr: 5e-2 },
  full: { steps: 20, batch: 8, lr: 2e-3, finalLr: 2e-4, warmup: 0, tokenLr: 5e-2 },
};

/** The mode `finetune` and the workspace's Fine-tune use unless told otherwise (the best measured: BENCHMARKS.md). */
export const DEFAULT_FINETUNE_MODE: TrainMode = 'full';

export function fineTuneMode(v: string | undefined, where: string): TrainMode {
  const m = v ?? DEFAULT_FINETUNE_MODE;
  if (!(m in FINETUNE_RECIPES)) throw new InputError(where, `must be one of ${Object.keys(FINETUNE_RECIPES).join(', ')}, got "${m}"`);
  return m as TrainMode;
}
