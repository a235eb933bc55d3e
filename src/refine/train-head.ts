import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import type { GrayImage } from '../image/decode.ts';
import { seededRandom } from '../inp-former/init.ts';
import { normalizeForModel } from '../preprocess/preprocess.ts';
import type { PreprocessConfig, RefineConfig, RgbImage, TensorMap } from '../types.ts';
import { REFINE_STEPS, REFINE_WIDTHS, type RefineHead } from './config.ts';
import { disposeRefine, initRefineTensors, refineLoss, refineLogits, uploadRefine } from './head.ts';
import { pasteDefect, pseudoAnomaly, type DefectSample } from './pseudo-anomaly.ts';
import type { ResidualSource } from './refined.ts';

/**
 * Normal images at the model's input size (resizeForModel), all S×S, and the frozen detector that reads their
 * residuals. A detector must not have seen the normals it reads: a kNN bank holding an image's own patches
 * answers 0 on it, and the head would learn that anything above 0 is a defect. So a kNN is split into folds,
 * each fold's images read by a bank of the others.
 */
export interface RefineGroup { source: ResidualSource; normals: readonly RgbImage[] }

export interface RefineTrainInput {
  /** The frozen detector(s): residuals are computed outside the gradient, so the head's loss never reaches them. */
  groups: readonly RefineGroup[];
  /** The annotator's defects at the same size (image + 0/1 mask); may be empty. */
  defects: readonly DefectSample[];
  preprocess: Pick<PreprocessConfig, 'mean' | 'std'>;
}

export interface RefineTrainOptions {
  /** Optimiser steps (default 300) of `batch` images (default 8). */
  steps?: number;
  batch?: number;
  /** Adam learning rate (default 2e-3). */
  lr?: number;
  seed?: number;
  /** Start from this head (an update after new accepts): its scales are kept, so fewer steps suffice. */
  init?: RefineHead;
  signal?: AbortSignal;
  onProgress?: (step: number, steps: number, loss: number) => void;
}

export const REFINE_DEFAULTS = { steps: REFINE_STEPS, batch: 8, lr: 2e-3, seed: 0 } as const;
/** Steps of an update that starts from the model's head (new accepts): a fifth of a fresh training. */
export const REFINE_UPDATE_STEPS = 60;

/** Normals measured for the feature and raw-map scales before training. */
const SCALE_IMAGES = 16;

/** Area share of a 0/1 mask in each cell of a side×side grid: the head's soft target. */
export function maskTarget(mask: GrayImage, side: number): Float32Array {
  const out = new Float32Array(side * side);
  const count = new Float32Array(side * side);
  for (let y = 0; y < mask.height; y++) {
    const ty = Math.min(side - 1, Math.floor((y * side) / mask.height));
    for (let x = 0; x < mask.width; x++) {
      const t = ty * side + Math.min(side - 1, Math.floor((x * side) / mask.width));
      out[t] += mask.data[y * mask.width + x] ? 1 : 0;
      count[t]++;
    }
  }
  return out.map((v, i) => (count[i] ? v / count[i] : 0));
}

/**
 * One training image: a clean normal (teaches the head to stay quiet), a pseudo-anomaly, or — when the annotator
 * has accepted defects — a real defect as it was or pasted onto a normal (INP-Former++'s semi-supervised setting).
 */
function sample(group: RefineGroup, defects: readonly DefectSample[], donors: readonly RgbImage[], rand: () => number): DefectSample {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const normal = pick(group.normals);
  const r = rand();
  const seed = Math.floor(rand() * 2 ** 31);
  const clean = { image: normal, mask: { width: normal.width, height: normal.height, data: new Uint8Array(normal.width * normal.height) } };
  if (defects.length) {
    if (r < 0.4) return pasteDefect(normal, pick(defects), seed);
    if (r < 0.5) return pick(defects);
    if (r < 0.8) return pseudoAnomaly(normal, pick(donors), seed);
    return clean;
  }
  return r < 0.75 ? pseudoAnomaly(normal, pick(donors), seed) : clean;
}

function batchTensor(images: readonly RgbImage[], pre: RefineTrainInput['preprocess']): tf.Tensor4D {
  const S = images[0].width;
  const data = new Float32Array(images.length * 3 * S * S);
  images.forEach((im, i) => data.set(normalizeForModel(im, pre), i * 3 * S * S));
  return tf.tensor4d(data, [images.length, 3, S, S]);
}

/**
 * Trains a refinement head on a frozen detector (INP-Former++ residual learning): the detector's residuals on
 * pseudo-anomalies and accepted defects → the defect masks, BCE + Dice, Adam. The detector's residuals are plain
 * inputs here (computed before the gradient tape), which is the paper's stop-gradient. Returns the head's config
 * and tensors; seeded, so the same inputs give the same head.
 */
export async function trainRefineHead(input: RefineTrainInput, o: RefineTrainOptions = {}): Promise<{ config: RefineConfig; tensors: TensorMap }> {
  const { groups } = input;
  const normals = groups.flatMap((g) => g.normals);
  const source = groups[0].source;
  if (groups.some((g) => !g.normals.length || g.source.residualDim !== source.residualDim)) throw new InputError('refinement', 'every fold needs normals and one residual width');
  if (normals.length < 2) throw new InputError('normal images', `${normals.length} given: refinement needs at least 2 (pseudo-anomalies take texture from another normal)`);
  const S = normals[0].width;
  for (const [i, im] of [...normals, ...input.defects.map((d) => d.image)].entries()) {
    if (im.width !== S || im.height !== S) throw new InputError(`training image ${i}`, `is ${im.width}×${im.height}, expected the model input ${S}×${S}`);
  }
  const steps = o.steps ?? REFINE_DEFAULTS.steps;
  const batch = o.batch ?? REFINE_DEFAULTS.batch;
  const seed = o.seed ?? REFINE_DEFAULTS.seed;
  const rand = seededRandom(seed);

  // Scales from clean normals: per-channel RMS of the features, and the raw map's maximum.
  const scaleSet = groups[0].normals.slice(0, SCALE_IMAGES);
  const { rms, rawMax, grid } = tf.tidy(() => {
    const { features, coarse } = source.residual(batchTensor(scaleSet, input.preprocess));
    const rmsT = tf.sqrt(tf.add(tf.mean(tf.square(features), [0, 1, 2]), 1e-12));
    return { rms: rmsT.dataSync() as Float32Array, rawMax: coarse.max().dataSync()[0], grid: features.shape[1] };
  });
  if (!(rawMax > 0)) throw new InputError('normal images', 'the detector\'s raw map is zero everywhere on them: nothing to scale the refinement by');
  if (o.init && o.init.config.inputDim !== source.residualDim) {
    throw new InputError('refinement head', `was trained on ${o.init.config.inputDim} residual channels, this detector gives ${source.residualDim}`);
  }
  const side = 4 * grid;
  const config: RefineConfig = {
    inputDim: source.residualDim, widths: o.init?.config.widths ?? REFINE_WIDTHS, rawScale: o.init?.config.rawScale ?? rawMax,
    training: { normals: normals.length, masks: input.defects.length, steps: steps + (o.init?.config.training.steps ?? 0), seed },
  };
  const init = o.init?.tensors ?? initRefineTensors(config, rms, seed);
  const params = uploadRefine(init);
  const trainable = Object.fromEntries(Object.entries(params).filter(([k]) => k !== 'input_scale').map(([k, v]) => [k, tf.variable(v, true, `refine.${k}`)]));
  const optimizer = tf.train.adam(o.lr ?? REFINE_DEFAULTS.lr);
  try {
    for (let step = 1; step <= steps; step++) {
      o.signal?.throwIfAborted();
      // One fold per step: its images, read by a detector that has not seen them.
      const group = groups[step % groups.length];
      const samples = Array.from({ length: batch }, () => sample(group, input.defects, normals, rand));
      const targets = new Float32Array(batch * side * side);
      samples.forEach((s, i) => targets.set(maskTarget(s.mask, side), i * side * side));
      const x = batchTensor(samples.map((s) => s.image), input.preprocess);
      const { features, coarse } = group.source.residual(x);
      const y = tf.tensor4d(targets, [batch, side, side, 1]);
      const loss = optimizer.minimize(() => refineLoss(refineLogits(features, { ...params, ...trainable }), y), true, Object.values(trainable));
      const value = (await loss!.data())[0];
      tf.dispose([x, features, coarse, y, loss!]);
      o.onProgress?.(step, steps, value);
      // Lets a cancel (and the event loop) in between steps.
      await new Promise((r) => setTimeout(r, 0));
    }
    const tensors: TensorMap = new Map();
    for (const [k, v] of init) {
      const t = trainable[k] ?? params[k];
      tensors.set(k, { dtype: 'F32', shape: v.shape, data: (await t.data()) as Float32Array });
    }
    return { config, tensors };
  } finally {
    optimizer.dispose();
    disposeRefine(params);
    disposeRefine(trainable);
  }
}
