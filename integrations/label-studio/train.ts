import path from 'node:path';
import { mapImages, type ServedModel, type ThresholdChoice } from '../../src/pipeline/served-model.ts';
import type { ConfigOverrides } from '../../src/checkpoint/infer-config.ts';
import { InputError } from '../../src/errors.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { encoderTensorsOf } from '../../src/inp-former/frozen-encoder.ts';
import { modelInput, recipeSettings, runTrainingJob } from '../../src/pipeline/train-job.ts';
import { runRefineJob } from '../../src/pipeline/refine-job.ts';
import { REFINE_STEPS } from '../../src/refine/config.ts';
import { fitKnnModel } from '../../src/knn/fit-model.ts';
import { buildModelFolder, type ModelContent } from '../../src/model-folder/manifest.ts';
import { loadModelFromPath, writeModelFolder } from '../../src/platform/node/model-folder.ts';
import { OFFICIAL_PREPROCESS } from '../../src/preprocess/preprocess.ts';
import { calibrateF1Adaptive, calibrateFromNormals } from '../../src/threshold/strategies.ts';
import { DEFAULT_FINETUNE_MODE, FINETUNE_RECIPES } from '../../src/train/recipe.ts';
import type { Calibration, PreprocessConfig, RgbImage, TensorMap } from '../../src/types.ts';
import { loadDetector, packageEncoderWeights } from '../cli/detector-io.ts';
import { readInput } from '../cli/images.ts';
import { holdOutSplit, scoreDetector, validationImages } from '../../src/selection/held-out.ts';
import { selectDetector } from '../../src/selection/validate.ts';
import type { Trainer, TrainedVersion, TrainingData } from './server.ts';

/**
 * Training for the Label Studio backend. Every 4th normal image is held out. A kNN model is refitted: its memory
 * bank rebuilt from the other normals with the model's own encoder, coreset ratio and seed (fit-knn). An
 * INP-Former is fine-tuned on them (finetune's defaults: src/train/recipe.ts). Every version is written as
 * a model folder (usable by annotate), judged against the model in use on the held-out normals and the accepted
 * defects (synthetic defects while there are none: src/selection), then calibrated: F1-adaptive on the accepted
 * masks when a defect was accepted, else the --threshold-from normals again, else a kept --threshold, else the
 * held-out normals. When annotations carry masks, a refinement head (INP-Former++ residual learning) is trained on
 * the new version and kept in it if its map validates better.
 */
export interface TrainerOptions {
  modelPath: string;
  overrides: ConfigOverrides;
  /** The serving options the new version keeps (preprocessing, threshold choice, proposal options). */
  serve: Pick<ServedModel, 'preprocess' | 'threshold' | 'options'>;
  /** annotate's --threshold-from normals, and its --quantile. */
  normalsFiles?: string[];
  quantile?: number;
  /** Where versions are written, one model folder each. */
  outDir: string;
  fineTuneSteps?: number;
  /** Steps of the refinement head trained when annotations carry masks (default REFINE_STEPS; 0: none). */
  refineSteps?: number;
}

type Item = { bytes: Uint8Array; where: string };

export function createTrainer(o: TrainerOptions): Trainer {
  return async (data: TrainingData, version: string, current: ServedModel): Promise<TrainedVersion> => {
    // Every 4th normal is held out: the new version is judged on it (and on the accepted defects) against the
    // model in use, and, with nothing else to calibrate on, its threshold comes from it.
    const { fit: fitSet, heldOut } = holdOutSplit(data.normals, 'training: normal images');
    const resolved = await loadModelFromPath(o.modelPath, o.overrides);
    const modelPre = resolved.preprocess ?? OFFICIAL_PREPROCESS;
    let content = resolved.content.kind === 'knn' ? await refitKnn(resolved.content, modelPre, fitSet, o.modelPath)
      : resolved.content.kind === 'inp-former' ? await fineTune(resolved.content, modelPre, fitSet, o.fineTuneSteps ?? FINETUNE_RECIPES[DEFAULT_FINETUNE_MODE].steps)
        : (() => { throw new InputError(o.modelPath, 'is an encoder only: there is no detector to train'); })();
    const refineSteps = o.refineSteps ?? REFINE_STEPS;
    // Accepted masks are the labels a refinement head learns from: with some, it sharpens the new version's map
    // (kept only if it validates better than that version's own map, src/pipeline/refine-job.ts).
    let refinement: TrainedVersion['refinement'];
    if (data.defects.length && refineSteps > 0 && content.kind !== 'encoder') {
      const encoderWeights = await packageEncoderWeights(content);
      const job = await runRefineJob({
        content, preprocess: modelPre, where: o.modelPath, ...(encoderWeights ? { encoderWeights } : {}), fromScratch: true,
        normals: data.normals.map((it) => decodeImage(it.bytes, it.where)),
        defects: data.defects.map((d) => ({ image: decodeImage(d.bytes, d.where), mask: d.mask })),
        train: { steps: refineSteps },
      });
      console.error(`serve-ls: ${version}: refinement ${job.selection.keep === 'candidate' ? 'kept' : 'not kept'}: ${job.summary}`);
      if (job.selection.keep === 'candidate') content = job.content;
      refinement = { kept: job.selection.keep === 'candidate', rawPixelAp: job.selection.current.pixelAp, refinedPixelAp: job.selection.candidate.pixelAp };
    }
    const dir = path.join(o.outDir, version);
    const source = { file: path.basename(o.modelPath), format: `label-studio training (${fitSet.length} normals)` };
    await writeModelFolder(dir, await buildModelFolder(content, { name: version, preprocess: modelPre, source }));
    const { detector } = await loadDetector(dir);
    try {
      const served: ServedModel = { ...o.serve, detector, version };
      const v = validationImages(
        heldOut.map((it) => decodeImage(it.bytes, it.where)), fitSet.slice(0, heldOut.length).map((it) => decodeImage(it.bytes, it.where)),
        data.defects.map((d) => ({ image: decodeImage(d.bytes, d.where), mask: d.mask })),
      );
      const mapOf = (m: ServedModel) => async (image: RgbImage) => (await mapImages(m, [{ image, where: 'validation image' }]))[0];
      const selection = selectDetector(await scoreDetector(v, mapOf(current)), await scoreDetector(v, mapOf(served)));
      const threshold = await calibrate(served, data, heldOut, o);
      if (threshold.kind === 'calibration') {
        await writeModelFolder(dir, await buildModelFolder(content, { name: version, preprocess: modelPre, source, calibration: threshold.calibration }));
      }
      return { model: { ...served, threshold }, selection, ...(refinement ? { refinement } : {}) };
    } catch (e) {
      detector.dispose();
      throw e;
    }
  };
}

async function refitKnn(c: Extract<ModelContent, { kind: 'knn' }>, pre: PreprocessConfig, items: Item[], where: string): Promise<ModelContent> {
  const fromPackage = await packageEncoderWeights(c);
  const weights: TensorMap = fromPackage ?? encoderTensorsOf(c.tensors);
  const { content } = await fitKnnModel(c.knn.encoder, weights, where, { count: items.length, load: async (i) => ({ image: decodeImage(items[i].bytes, items[i].where), name: items[i].where }) }, {
    size: pre.resize, coresetRatio: c.knn.coresetRatio, seed: c.knn.seed, bundleEncoder: !fromPackage,
  });
  return content;
}

async function fineTune(c: Extract<ModelContent, { kind: 'inp-former' }>, pre: PreprocessConfig, items: Item[], steps: number): Promise<ModelContent> {
  const encoderWeights = await packageEncoderWeights(c);
  const mode = DEFAULT_FINETUNE_MODE;
  const recipe = recipeSettings('finetune', c.config, mode, steps);
  const { content } = await runTrainingJob({
    content: c, ...(encoderWeights ? { encoderWeights } : {}), preprocess: pre, mode, where: 'model in use',
    inputs: { count: items.length, load: (i) => modelInput(decodeImage(items[i].bytes, items[i].where), pre, c.config, items[i].where) },
    settings: { ...recipe, batchSize: Math.min(recipe.batchSize ?? 8, items.length) },
  });
  if (!content) throw new Error('fine-tuning stopped before its last step');
  return content;
}

async function calibrate(served: ServedModel, data: TrainingData, heldOut: Item[], o: TrainerOptions): Promise<ThresholdChoice> {
  const mapsOf = (items: Item[]) => mapImages(served, items.map((it) => ({ image: decodeImage(it.bytes, it.where), where: it.where })));
  const fromNormals = async (items: Item[]): Promise<Calibration> => {
    const m = await mapsOf(items);
    return calibrateFromNormals(m.map((x) => x.map), m.map((x) => x.score), o.quantile === undefined ? {} : { quantile: o.quantile });
  };
  if (data.defects.length) {
    const normals = await mapsOf(data.normals);
    const defects = await mapsOf(data.defects);
    return {
      kind: 'calibration',
      calibration: calibrateF1Adaptive([
        ...normals.map((m) => ({ ...m, mask: { width: m.map.width, height: m.map.height, data: new Uint8Array(m.map.data.length) } })),
        ...defects.map((m, i) => ({ ...m, mask: data.defects[i].mask })),
      ]),
    };
  }
  if (o.normalsFiles?.length) return { kind: 'calibration', calibration: await fromNormals(await Promise.all(o.normalsFiles.map(async (f) => ({ bytes: await readInput(f), where: f })))) };
  if (o.serve.threshold.kind === 'manual') return o.serve.threshold;
  return { kind: 'calibration', calibration: await fromNormals(heldOut) };
}
