import * as tf from '@tensorflow/tfjs';
import { createPatchEncoder } from '../encoder/patch-encoder.ts';
import { InputError } from '../errors.ts';
import type { GrayImage } from '../image/decode.ts';
import { createInpFormer } from '../inp-former/predict.ts';
import { encoderTensorsOf } from '../inp-former/frozen-encoder.ts';
import { createKnnDetector, fitMemoryBank, type KnnDetector } from '../knn/knn.ts';
import type { ModelContent } from '../model-folder/manifest.ts';
import type { DefectSample } from '../refine/pseudo-anomaly.ts';
import { inpFormerResidual, knnResidual } from '../refine/refined.ts';
import { REFINE_DEFAULTS, REFINE_UPDATE_STEPS, trainRefineHead, type RefineGroup, type RefineTrainOptions } from '../refine/train-head.ts';
import { normalizeForModel, resizeForModel } from '../preprocess/preprocess.ts';
import { HOLD_OUT_EVERY, holdOutSplit, maskOnto, scoreDetector, validationImages } from '../selection/held-out.ts';
import { describeFigures, selectRefinement, type Selection } from '../selection/validate.ts';
import type { PreprocessConfig, Progress, RgbImage, TensorMap } from '../types.ts';
import { progressCounter } from './progress.ts';
import { createDetector } from './detector.ts';
import { imageMap } from './image-map.ts';

export type RefinableContent = Exclude<ModelContent, { kind: 'encoder' }>;

export interface RefineJob {
  /** The detector to refine; a head it already has is the starting point unless `fromScratch`. */
  content: RefinableContent;
  preprocess: PreprocessConfig;
  /** A kNN model's encoder when the folder does not hold it (nsfwjs). */
  encoderWeights?: TensorMap;
  where: string;
  /** Normal images at any size (every 4th is held out to judge the head). */
  normals: readonly RgbImage[];
  /** Accepted defects: the image and its mask at the image's size (every 4th held out once there are 4; fewer all train, judged on synthetic ones). */
  defects?: readonly DefectSample[];
  train?: RefineTrainOptions;
  /** Training steps and validation images as one progress stream (the workspace's bar; the CLI prints its own). */
  onProgress?: (p: Progress) => void;
  /** Train a new head even when the model has one (default: continue from it, the update after new accepts). */
  fromScratch?: boolean;
}

export interface RefinedJob {
  /** The model with its new head. */
  content: RefinableContent;
  /** The raw and the refined map on the held-out images, and which one stays in use. */
  selection: Selection;
  /** "pixel AP 41.0 % → 55.2 %, …": both figures, for the user. */
  summary: string;
  seconds: { train: number; validate: number };
}

/**
 * The frozen detector's residuals on the training normals, built from the model's content without any head of its
 * own. An INP-Former reads every normal itself. A kNN is split into two folds, each read by a bank fitted (same
 * coreset share) on the other fold's normals, since the model's own bank may hold their patches and answer 0 on
 * them (the workspace's bank keeps every token of a few normals).
 */
async function residualGroups(content: RefinableContent, normals: readonly RgbImage[], pre: PreprocessConfig, encoderWeights: TensorMap | undefined, where: string): Promise<{ groups: RefineGroup[]; dispose(): void }> {
  if (content.kind === 'inp-former') {
    const model = createInpFormer(content.config, content.tensors, { where, ...(encoderWeights ? { encoderWeights } : {}) });
    return { groups: [{ source: inpFormerResidual(model), normals }], dispose: () => model.dispose() };
  }
  const encoder = createPatchEncoder(content.knn.encoder, encoderWeights ?? encoderTensorsOf(content.tensors), where);
  const detectors: KnnDetector[] = [];
  const dispose = () => { detectors.forEach((d) => d.dispose()); encoder.dispose(); };
  try {
    const folds = [normals.filter((_, i) => i % 2 === 0), normals.filter((_, i) => i % 2 === 1)];
    const groups: RefineGroup[] = [];
    for (const [k, fold] of folds.entries()) {
      const bank = await fitMemoryBank(encoder, (function* () {
        for (const im of folds[1 - k]) {
          const x = tf.tensor4d(normalizeForModel(im, pre), [1, 3, im.height, im.width]);
          try { yield x; } finally { x.dispose(); }
        }
      })(), { coresetRatio: content.knn.coresetRatio, seed: content.knn.seed });
      const knn = createKnnDetector(encoder, bank);
      detectors.push(knn);
      groups.push({ source: knnResidual(knn), normals: fold });
    }
    return { groups, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

const atModelSize = (im: RgbImage, pre: PreprocessConfig): RgbImage => {
  const m = resizeForModel(im, pre);
  return { width: m.width, height: m.height, data: m.data };
};

/**
 * INP-Former++ residual refinement of any of our detectors: trains a head on the normals' pseudo-anomalies and the
 * accepted defects, then judges the raw and the refined map on held-out normals and defects (the accepted ones
 * held out, or synthetic ones of another kind than the training's Perlin blobs). The detector's own tensors are
 * passed through untouched.
 */
export async function runRefineJob(job: RefineJob): Promise<RefinedJob> {
  const pre = job.preprocess;
  const { fit, heldOut } = holdOutSplit(job.normals);
  const defects = job.defects ?? [];
  const split = defects.length >= HOLD_OUT_EVERY ? holdOutSplit(defects, 'accepted defects') : { fit: defects, heldOut: [] };
  const raw = { ...job.content };
  delete raw.refine;
  const side = pre.protocol === 'official' ? pre.crop : pre.resize;
  const toModel = (d: DefectSample, i: number): DefectSample => {
    if (d.mask.width !== d.image.width || d.mask.height !== d.image.height) {
      throw new InputError(`accepted defect ${i}`, `mask is ${d.mask.width}×${d.mask.height}, its image ${d.image.width}×${d.image.height}`);
    }
    const mask: GrayImage = { width: side, height: side, data: maskOnto(d.mask, side, side) };
    return { image: atModelSize(d.image, pre), mask };
  };
  const t0 = performance.now();
  const frozen = await residualGroups(raw, fit.map((im) => atModelSize(im, pre)), pre, job.encoderWeights, job.where);
  let head;
  try {
    const init = job.content.refine && !job.fromScratch ? job.content.refine : undefined;
    const steps = job.train?.steps ?? (init ? REFINE_UPDATE_STEPS : REFINE_DEFAULTS.steps);
    const tick = job.onProgress ? progressCounter('refine', steps, job.onProgress) : undefined;
    head = await trainRefineHead({ groups: frozen.groups, defects: split.fit.map(toModel), preprocess: pre }, {
      ...job.train, ...(init ? { init } : {}), steps,
      onProgress: (step, n, loss) => { tick?.(`loss ${loss.toFixed(4)}`); job.train?.onProgress?.(step, n, loss); },
    });
  } finally {
    frozen.dispose();
  }
  const t1 = performance.now();
  const refinedContent = { ...raw, refine: head } as RefinableContent;
  const v = validationImages(heldOut, fit, split.heldOut.map((d) => ({ image: d.image, mask: d.mask })));
  const figures = [];
  const tick = job.onProgress ? progressCounter('validate', 2 * v.images.length, job.onProgress) : undefined;
  for (const [k, c] of [raw, refinedContent].entries()) {
    const detector = createDetector(c, { preprocess: pre, where: job.where, ...(job.encoderWeights ? { encoderWeights: job.encoderWeights } : {}) });
    try {
      figures.push(await scoreDetector(v, async (im) => {
        const m = await imageMap(detector, im, pre, job.where);
        tick?.(k ? 'refined map' : 'raw map');
        return m;
      }, job.train?.signal));
    } finally {
      detector.dispose();
    }
  }
  const selection = selectRefinement(figures[0], figures[1]);
  head.config.validation = {
    raw: figures[0].pixelAp, refined: figures[1].pixelAp,
    what: `pixel AP on ${figures[0].normals} held-out normals + ${figures[0].defects} ${figures[0].synthetic ? 'synthetic' : 'accepted'} defects`,
  };
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const summary = `pixel AP ${pct(figures[0].pixelAp)} raw → ${pct(figures[1].pixelAp)} refined; raw: ${describeFigures(figures[0])}; refined: ${describeFigures(figures[1])}`;
  return { content: refinedContent, selection, summary, seconds: { train: (t1 - t0) / 1000, validate: (performance.now() - t1) / 1000 } };
}
