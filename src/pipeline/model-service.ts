/**
 * The workspace's model service: tfjs and every tensor of the in-browser workspace live here. It decodes
 * images (EXIF applied), keeps each image's model input, builds the kNN memory bank from the normals (the cold
 * start), predicts raw maps at the working size, loads user models, trains INP-Former heads on the nsfwjs encoder
 * and fine-tunes them. With the onnx engine, predictions run on our ONNX export of the model in use in
 * onnxruntime-web instead of tfjs (fitting and training stay on tfjs; the model is exported again after them).
 * Its state lives in the service object (one per worker); the platform's parts (nsfwjs weights, wasm paths,
 * onnxruntime-web) are handed in by the entry that creates it (src/worker/model-worker.ts in a browser).
 */
import * as tf from '@tensorflow/tfjs';
import { createDetector, type Detector } from './detector.ts';
import { createPatchEncoder, type PatchEncoder } from '../encoder/patch-encoder.ts';
import { cnnPreprocess, defaultStages } from '../encoder/cnn-config.ts';
import { openModel } from '../model-folder/open.ts';
import { decodeImage } from '../image/decode.ts';
import { pilResize } from '../image/pil-resize.ts';
import { initHead } from '../inp-former/init.ts';
import type { PredictOptions, PredictResult } from '../inp-former/predict.ts';
import { createKnnDetector, fitMemoryBank, knnTensors, type KnnDetector, type MemoryBank } from '../knn/knn.ts';
import { buildModelFolder, MANIFEST_FILE, type ModelContent } from '../model-folder/manifest.ts';
import { OFFICIAL_PREPROCESS, preprocess } from '../preprocess/preprocess.ts';
import { useFirstBackend } from '../runtime/backend.ts';
import { toOutputSize } from '../map/anomaly-map.ts';
import { makeSample } from '../samples/surfaces.ts';
import { holdOutSplit, scoreDetector, validationImages } from '../selection/held-out.ts';
import { selectDetector, type Selection } from '../selection/validate.ts';
import { headConfigFor } from '../train/head-config.ts';
import type { TrainMode } from '../train/recipe.ts';
import { DEFAULT_FINETUNE_MODE } from '../train/recipe.ts';
import type { BackendName, CnnEncoderConfig, ImageSource, InpFormerConfig, KnnConfig, PreprocessConfig, Progress, RgbImage, TensorMap, WebOnnxProvider } from '../types.ts';
import { progressCounter } from './progress.ts';
import { recipeSettings, runTrainingJob, type ModelInput } from './train-job.ts';
import { runRefineJob, type RefinableContent } from './refine-job.ts';
import type { RefineHead } from '../refine/config.ts';
import type { BinaryMask } from '../image/mask.ts';
import { workingSize } from '../image/working-size.ts';
import type {
  DecodedImage, EngineChoice, EngineStatus, FitResult, InpCard, MapResult, ModelFiles, ModelInfo, RefineResult, TrainResult, WorkerMemory,
  WorkerRequest,
} from './model-protocol.ts';


/** What the entry supplies: the platform's ways to get weights, prepare backends and run ONNX. */
export interface ModelServicePlatform {
  /** nsfwjs's MobileNetV2 weights (the default encoder), fetched once by the service. */
  nsfwjsWeights(): Promise<TensorMap>;
  /** GPU backends this platform offers only in software, with why (a browser's SwiftShader adapter). */
  softwareGpuBackends?(): Promise<Partial<Record<BackendName, string>>>;
  /** Runs before the first backend starts (a browser points tfjs-wasm at its binaries). */
  prepareBackends?(): Promise<void>;
  /** onnxruntime over an exported model's bytes, for the onnx engine. */
  onnx?(bytes: Uint8Array, o: { providers?: readonly WebOnnxProvider[]; where: string }): Promise<OnnxModel>;
}

/** An ONNX session as the service uses it (onnxruntime-web's, or any runtime's with this shape). */
export interface OnnxModel {
  readonly provider: WebOnnxProvider;
  readonly fallbacks: string[];
  predict(input: ModelInput, opts: { mapSize: number | [number, number] }): Promise<PredictResult>;
  dispose(): Promise<void>;
}

export interface ModelService {
  /** Answers one request; progress goes to `progress`; `signal` cancels fit and training between steps. */
  handle(req: WorkerRequest, signal: AbortSignal, progress: (p: Progress) => void): Promise<{ value: unknown; transfer?: Transferable[] }>;
}

interface Registered { name: string; source: ImageSource; bytes?: Uint8Array; workWidth: number; workHeight: number }

/** The backends tried when the page names none: the fastest first. */
const DEFAULT_BACKENDS: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

/** A bank this large (tokens) is kept whole; beyond it the greedy coreset keeps BANK_ROWS rows. */
const BANK_ROWS = 16_384;
/** Seed of a fresh head's initialisation: the same normals and steps train the same head. */
const HEAD_SEED = 1;
const NSFWJS_NAME = 'nsfwjs MobileNetV2';

/**
 * An INP-Former in use: loaded by the user, or trained here on the nsfwjs encoder. It replaces the kNN detector
 * until the page drops it ('drop-model'). Its card says what it is (`about`) and what training here did to it.
 */
interface InpModel extends InpCard {
  detector: Detector;
  content: Extract<ModelContent, { kind: 'inp-former' }>;
  /** The CNN encoder's weights where the content does not hold them (nsfwjs, which model folders never copy). */
  encoderWeights?: TensorMap;
}

/** The kNN detector and what it was built from (the bank is kept for the ONNX export). */
interface KnnModel { detector: KnnDetector; bank: MemoryBank; config: KnnConfig }

type HostPredict = (x: ModelInput, o: PredictOptions) => Promise<PredictResult>;

/** The workspace's kNN on host inputs; its image score is the map's maximum (PatchCore's), as the workspace shows it. */
function knnPredict(k: KnnDetector): HostPredict {
  return async (x, o) => {
    const t = tf.tensor4d(x.data, x.shape);
    try {
      return await k.predict(t, { ...o, topRatio: 0 });
    } finally {
      t.dispose();
    }
  };
}

export function createModelService(platform: ModelServicePlatform): ModelService {
  /** The page's model input side: the kNN's, and a fresh head's; a loaded model brings its own. */
  let pageInputSize = 224;
  let inputSize = pageInputSize;
  let pre: PreprocessConfig = cnnPreprocess('nsfwjs-mobilenetv2', inputSize);
  let encoder: PatchEncoder | undefined;
  let knn: KnnModel | undefined;
  let inp: InpModel | undefined;
  let nsfwjs: Promise<TensorMap> | undefined;
  let info: Omit<ModelInfo, 'engine'> = noModel();
  let engineChoice: EngineChoice = { engine: 'tfjs' };
  let engineStatus: EngineStatus = { engine: 'tfjs' };
  /** A refinement head over the model in use (`of`): its maps replace the model's own while `of` stays in use. */
  let refined: { detector: Detector; of: InpModel | KnnModel; head: RefineHead; normals: number; defects: number } | undefined;
  /** The onnxruntime-web session of the model in use (engine onnx), and the model it was exported from. */
  let onnx: { model: OnnxModel; of: InpModel | KnnModel; head?: RefineHead } | undefined;
  let onnxSessions = 0;
  const images = new Map<string, Registered>();
  /** Model inputs of the current preprocessing, per image (a 224² input is 600 kB; the decoded original is not kept). */
  const inputs = new Map<string, Float32Array>();

  function noModel(): Omit<ModelInfo, 'engine'> {
    return {
      kind: 'none', name: 'kNN · nsfwjs MobileNetV2', license: 'MIT (nsfwjs weights)', normals: 0, inputSize, version: 'none', trainable: false,
      description: 'Training-free: mark a few normal images (3+) and it proposes defects from patch distances to them.',
    };
  }

  const modelInfo = (): ModelInfo => ({ ...info, engine: engineStatus });
  const newVersion = (kind: string) => `${kind}-${Date.now()}`;

  function decodeSource(r: Registered, where: string): RgbImage {
    if (r.source.kind === 'sample') return makeSample(r.source.surface, r.source.defect, r.source.seed, r.source.size).image;
    if (!r.bytes) throw new Error(`${where}: the image's bytes were not sent`);
    return decodeImage(r.bytes, where);
  }

  /** An image as the page shows it (Pillow-resized to its working size). */
  function atWorkingSize(r: Registered, img: RgbImage): RgbImage {
    if (r.workWidth === img.width && r.workHeight === img.height) return img;
    const w = pilResize({ ...img, channels: 3 }, r.workWidth, r.workHeight);
    return { width: w.width, height: w.height, data: w.data };
  }

  function inputOf(id: string): Float32Array {
    let x = inputs.get(id);
    if (!x) {
      const r = images.get(id);
      if (!r) throw new Error(`image ${id} is not registered with the model worker`);
      x = preprocess(decodeSource(r, r.name), pre, undefined, r.name).data;
      inputs.set(id, x);
    }
    return x;
  }

  function tensorOf(id: string): tf.Tensor4D {
    const s = inputSize;
    return tf.tensor4d(inputOf(id), [1, 3, s, s]);
  }

  /** nsfwjs's MobileNetV2 weights (host memory), fetched once: the kNN and the INP-Formers on that encoder share them. */
  function nsfwjsWeights(): Promise<TensorMap> {
    nsfwjs ??= platform.nsfwjsWeights().catch((e) => { nsfwjs = undefined; throw e; });
    return nsfwjs;
  }

  /** The default token encoder: MobileNetV2 blocks 2, 5, 9 on one grid, for the kNN and for heads trained here. */
  function nsfwjsEncoderConfig(): CnnEncoderConfig {
    return { kind: 'nsfwjs-mobilenetv2', layers: defaultStages('nsfwjs-mobilenetv2'), localAverage: true, grid: Math.ceil(inputSize / 8) };
  }

  async function getEncoder(): Promise<PatchEncoder> {
    encoder ??= createPatchEncoder(nsfwjsEncoderConfig(), await nsfwjsWeights(), NSFWJS_NAME);
    return encoder;
  }


  /** The coreset's share of `images` normals' tokens: all of them up to BANK_ROWS. */
  const coresetRatio = (images: number) => Math.min(1, BANK_ROWS / (images * Math.ceil(inputSize / 8) ** 2));

  async function fitBank(enc: PatchEncoder, ids: readonly string[], signal: AbortSignal, onDone: (n: number) => void): Promise<MemoryBank> {
    return fitMemoryBank(enc, (async function* () {
      for (const [i, id] of ids.entries()) {
        signal.throwIfAborted();
        const x = tensorOf(id);
        try { yield x; } finally { x.dispose(); }
        onDone(i + 1);
      }
    })(), { coresetRatio: coresetRatio(ids.length) });
  }

  /** A map at the working size from tfjs. */
  async function predictWith(predict: HostPredict, id: string): Promise<MapResult> {
    const r = images.get(id)!;
    const t0 = performance.now();
    const p = await predict({ data: inputOf(id), shape: [1, 3, inputSize, inputSize] }, { mapSize: pre.mapSize, outputSize: [r.workHeight, r.workWidth] });
    return { id, map: { width: p.width, height: p.height, data: p.maps[0] }, score: p.scores[0], ms: performance.now() - t0, engine: { engine: 'tfjs' } };
  }

  /**
   * A map at the working size from onnxruntime-web. The exported graph ends at the scoring map; it is resized to the
   * working size as the tfjs path's last step does (finishMap's `outputSize`: bilinear, half-pixel centres).
   */
  async function predictOnnx(m: OnnxModel, id: string): Promise<MapResult> {
    const r = images.get(id)!;
    const t0 = performance.now();
    const p = await m.predict({ data: inputOf(id), shape: [1, 3, inputSize, inputSize] }, { mapSize: pre.mapSize });
    const shown = tf.tidy(() => toOutputSize(tf.tensor4d(p.maps[0], [1, p.height, p.width, 1]), [r.workHeight, r.workWidth]));
    try {
      const data = (await shown.data()) as Float32Array;
      return { id, map: { width: r.workWidth, height: r.workHeight, data }, score: p.scores[0], ms: performance.now() - t0, engine: engineStatus };
    } finally {
      shown.dispose();
    }
  }

  /** The model in use's ONNX export at the working input and map size (the exporters load only for this engine). */
  async function exportOnnx(m: InpModel | KnnModel, head?: RefineHead): Promise<Uint8Array> {
    const sizes = { inputSize: [inputSize, inputSize] as [number, number], mapSize: [pre.mapSize, pre.mapSize] as [number, number], preprocess: pre };
    if ('content' in m) {
      const { exportInpFormerOnnx } = await import('../onnx/export-inp-former.ts');
      return exportInpFormerOnnx(m.content.config, m.content.tensors, { ...sizes, name: m.name, encoderWeights: m.encoderWeights }, m.name, head);
    }
    const { exportKnnOnnx } = await import('../onnx/export-knn.ts');
    return exportKnnOnnx(m.config, knnTensors(m.bank), { ...sizes, name: 'knn', encoderWeights: await nsfwjsWeights() }, 'kNN memory bank', head);
  }

  async function releaseOnnx(): Promise<void> {
    const o = onnx;
    if (!o) return;
    onnx = undefined;
    onnxSessions--;
    await o.model.dispose();
  }

  /**
   * Brings onnxruntime-web in line with the engine chosen and the model in use: a session over the model's export,
   * the previous one released. If the export or onnxruntime-web fails, predictions fall back to tfjs and the status
   * says why (until another engine choice).
   */
  async function syncEngine(): Promise<void> {
    const wanted = engineChoice.engine === 'onnx' ? inp ?? knn : undefined;
    const head = refined && refined.of === wanted ? refined.head : undefined;
    if (onnx && (onnx.of !== wanted || onnx.head !== head)) await releaseOnnx();
    if (!wanted) {
      // No model yet: onnxruntime-web starts with the first one. (tfjs keeps its status: it may say why onnx failed.)
      if (engineChoice.engine === 'onnx') engineStatus = { engine: 'onnx' };
      return;
    }
    if (onnx) return;
    try {
      if (!platform.onnx) throw new Error('this platform has no ONNX runtime');
      const model = await platform.onnx(await exportOnnx(wanted, head), { providers: engineChoice.providers, where: `${info.name} (ONNX export)` });
      onnxSessions++;
      onnx = { model, of: wanted, ...(head ? { head } : {}) };
      engineStatus = { engine: 'onnx', provider: model.provider, ...(model.fallbacks.length ? { skipped: model.fallbacks } : {}) };
    } catch (e) {
      onnxFailed(e);
    }
  }

  /** A new engine choice (from a URL parameter too, so an unknown name falls back to tfjs with a message). */
  function choose(c: EngineChoice): void {
    const known = c.engine === 'tfjs' || c.engine === 'onnx';
    engineChoice = known ? c : { engine: 'tfjs' };
    engineStatus = known ? { engine: c.engine } : { engine: 'tfjs', failure: `unknown engine "${c.engine}" (expected tfjs or onnx), so tfjs predicts` };
  }

  function onnxFailed(e: unknown): void {
    engineChoice = { engine: 'tfjs' };
    engineStatus = { engine: 'tfjs', failure: `onnxruntime-web could not run ${info.name}, so tfjs does: ${(e as Error).message ?? String(e)}` };
  }

  /** The onnx engine's map when it runs, else tfjs's; a failing onnxruntime-web hands over to tfjs for good. */
  async function predict(d: HostPredict, id: string): Promise<MapResult> {
    // tfjs runs the refined model unless onnxruntime-web holds its export (the engine chosen is tfjs, or it failed).
    if (refined && onnx?.head !== refined.head) return { ...(await predictWith(refined.detector.predict, id)), engine: engineStatus };
    if (onnx) {
      try {
        return await predictOnnx(onnx.model, id);
      } catch (e) {
        onnxFailed(e);
        await releaseOnnx();
      }
    }
    return { ...(await predictWith(d, id)), engine: engineStatus };
  }

  /**
   * Memory bank from every normal; each normal's own map comes from a bank of the other half (2-fold), because a
   * normal scored against a bank holding its own patches reads ≈ 0 and would calibrate the threshold far too low.
   */
  async function fit(normals: string[], signal: AbortSignal, progress: (p: Progress) => void): Promise<FitResult> {
    if (inp) throw new Error(`an INP-Former (${inp.name}) is in use; drop it before fitting the kNN detector`);
    if (normals.length === 0) throw new Error('mark at least one image normal first');
    const enc = await getEncoder();
    const folds = normals.length >= 2 ? [normals.filter((_, i) => i % 2 === 0), normals.filter((_, i) => i % 2 === 1)] : [];
    const total = normals.length * 2 + normals.length;
    const step = progressCounter('fit', total, progress);
    const bank = await fitBank(enc, normals, signal, () => step('memory bank'));
    const heldOut: MapResult[] = [];
    for (const [k, fold] of folds.entries()) {
      const other = folds[1 - k];
      const foldBank = await fitBank(enc, other, signal, () => step('held-out bank'));
      const d = createKnnDetector(enc, foldBank);
      try {
        for (const id of fold) { signal.throwIfAborted(); heldOut.push(await predictWith(knnPredict(d), id)); step('normal maps'); }
      } finally {
        d.dispose();
      }
    }
    knn?.detector.dispose();
    dropRefinement();
    knn = {
      detector: createKnnDetector(enc, bank), bank,
      config: { encoder: nsfwjsEncoderConfig(), bankSize: bank.size, dim: bank.dim, coresetRatio: coresetRatio(normals.length), seed: 0, images: normals.length },
    };
    info = {
      ...noModel(), kind: 'knn', normals: normals.length, version: newVersion('knn'),
      description: `Memory bank of ${bank.size} patch features (dim ${bank.dim}) from ${normals.length} normal images; MobileNetV2 blocks 2, 5, 9 at ${inputSize}×${inputSize}.`,
    };
    // The normals' held-out maps come from the folds' banks on tfjs: exporting those too would double a fit's time.
    await syncEngine();
    return { info: modelInfo(), normals: heldOut };
  }

  function inpInfo(m: InpModel): Omit<ModelInfo, 'engine'> {
    const done = [m.trained, m.tuned].filter(Boolean).join(', then ');
    return {
      kind: 'inp-former', name: `INP-Former · ${m.name}`, license: m.license, normals: m.normals, inputSize, version: m.version, trainable: true,
      description: done ? `${done}. ${m.about}` : m.about,
    };
  }

  /** Makes `next` the model in use (exported for onnxruntime-web when that engine runs); the previous INP-Former and the kNN detector (bank and encoder) are freed. */
  async function useInp(next: InpModel): Promise<ModelInfo> {
    dropRefinement();
    inp?.detector.dispose();
    knn?.detector.dispose();
    encoder?.dispose();
    knn = undefined;
    encoder = undefined;
    inp = next;
    info = inpInfo(next);
    await syncEngine();
    return modelInfo();
  }

  /** No model, back to the page's preprocessing: the kNN detector is fitted next. */
  async function dropModel(): Promise<ModelInfo> {
    dropRefinement();
    inp?.detector.dispose();
    knn?.detector.dispose();
    inp = undefined;
    knn = undefined;
    inputSize = pageInputSize;
    pre = cnnPreprocess('nsfwjs-mobilenetv2', inputSize);
    inputs.clear();
    info = noModel();
    await syncEngine();
    return modelInfo();
  }

  const cardOf = (m: InpModel): InpCard => ({
    name: m.name, license: m.license, about: m.about, normals: m.normals, version: m.version,
    ...(m.trained ? { trained: m.trained } : {}), ...(m.tuned ? { tuned: m.tuned } : {}),
  });

  /** What a fine-tune mode trained, for the model card. */
  const FINETUNED: Record<TrainMode, string> = { tokens: 'INP tokens', 'tokens+extractor': 'INP tokens and extractor', full: 'whole head' };

  const describeHead = (c: InpFormerConfig, encoderName: string) =>
    `${c.inpCount} INPs, ${c.decoderDepth}-block decoder over ${encoderName}; input ${inputSize}×${inputSize}.`;

  /** A user's model, or (`card`) a head trained here, back from the page's storage with its card and version. */
  async function loadModel(files: ModelFiles, card?: InpCard): Promise<ModelInfo> {
    if (!files.length) throw new Error('no model file given');
    const manifestFile = files.find((f) => f.name === MANIFEST_FILE);
    const name = card?.name ?? (manifestFile ? 'model folder' : files[0].name);
    const opened = await openModel(manifestFile ? { files: new Map(files.map((f) => [f.name, f.bytes])), name } : { checkpoint: files[0].bytes, name: files[0].name });
    const { content } = opened;
    const preprocessConfig: PreprocessConfig = { ...(opened.preprocess ?? OFFICIAL_PREPROCESS), protocol: 'annotate' };
    if (content.kind !== 'inp-former') throw new Error(`${name}: is ${content.kind === 'encoder' ? 'an encoder only (no INP-Former head): train a head with it first' : 'a kNN model folder; the workspace builds its own kNN from your normals'}`);
    // A model folder trained on nsfwjs (inp-former train -e nsfwjs-mobilenetv2) does not hold the encoder's weights.
    const encoderWeights = content.config.encoder.kind === 'nsfwjs-mobilenetv2' ? await nsfwjsWeights() : undefined;
    const detector = createDetector(content, { preprocess: preprocessConfig, where: name, encoderWeights });
    pre = preprocessConfig;
    inputSize = preprocessConfig.resize;
    inputs.clear();
    return useInp({
      detector, content, encoderWeights,
      ...(card ?? { name, license: 'see the checkpoint (INP-Former code: MIT)', normals: 0, version: newVersion('inp'), about: describeHead(content.config, `encoder ${content.config.encoder.kind}`) }),
    });
  }

  /** A fresh head on the default encoder (what the kNN uses), for training here from the normals alone. */
  async function nsfwjsHead(): Promise<Omit<InpModel, 'detector'>> {
    const config = headConfigFor(nsfwjsEncoderConfig());
    return {
      content: { kind: 'inp-former', config, tensors: initHead(config, HEAD_SEED) }, name: NSFWJS_NAME, encoderWeights: await nsfwjsWeights(),
      license: 'MIT (nsfwjs weights); the head is trained in this browser', normals: 0, version: 'untrained',
      about: describeHead(config, 'MobileNetV2 blocks 2, 5, 9'),
    };
  }

  /**
   * Trains (whole head) or fine-tunes (INP tokens) an INP-Former on the normals, then keeps it only if it beats the
   * detector in use on labelled images neither trained on: every 4th normal is held out, with a synthetic defect on
   * each (src/selection). The kNN in use is judged as refitted on the same training normals; an INP-Former in use
   * as it is. With no INP-Former yet, training starts a fresh head on the nsfwjs encoder. A cancelled or failed run,
   * or a trained model that scores no better, leaves the model in use as it was; the result still comes back as a
   * model folder (the nsfwjs encoder's weights are not in it: they come from the package on load), so the page can
   * save it and the user can pick it anyway.
   */
  async function trainHead(job: 'train' | 'finetune', normals: string[], steps: number, signal: AbortSignal, progress: (p: Progress) => void): Promise<TrainResult> {
    if (!Number.isSafeInteger(steps) || steps < 1) throw new Error(`steps must be a positive whole number, got ${steps}`);
    const { fit: fitIds, heldOut } = holdOutSplit(normals, 'normals marked in this session');
    const mode = job === 'train' ? 'full' : DEFAULT_FINETUNE_MODE;
    const base = inp ?? (job === 'train' ? await nsfwjsHead() : undefined);
    if (!base) throw new Error('fine-tuning needs an INP-Former head: train one (Train) or load a checkpoint or model folder first');
    const source = { where: base.name, encoderWeights: base.encoderWeights };
    const { config } = base.content;
    const recipe = recipeSettings(job, config, mode, steps);
    let candidate: Detector | undefined;
    try {
      const { run: r, content } = await runTrainingJob({
        content: base.content, ...(base.encoderWeights ? { encoderWeights: base.encoderWeights } : {}), preprocess: pre, mode, where: base.name,
        // One normal at a time: the trainer encodes each input once and keeps its features.
        inputs: { count: fitIds.length, load: (i) => ({ data: inputOf(fitIds[i]), shape: [1, 3, inputSize, inputSize] }) },
        settings: {
          ...recipe, batchSize: Math.min(recipe.batchSize ?? 8, fitIds.length), microBatch: 1, seed: HEAD_SEED, signal,
          onProgress: (e) => progress(e.stage === 'train' ? { ...e, job } : e.stage === 'encode' ? { ...e, detail: 'encoding normals' } : e),
        },
      });
      if (!content) throw new DOMException('training cancelled', 'AbortError');
      const built = await buildModelFolder(content, { name: `${base.name} (trained in the workspace)`, preprocess: pre });
      candidate = createDetector(content, { preprocess: pre, ...source });
      const selection = await validate(candidate, fitIds, heldOut, signal, progress);
      const what = `on ${fitIds.length} normals (${r.state.step} steps)`;
      const trained: InpModel = {
        ...base, detector: candidate, content, normals: fitIds.length, version: newVersion('inp'),
        ...(job === 'train' ? { trained: `Head trained here ${what}`, tuned: undefined } : { tuned: `${FINETUNED[mode]} fine-tuned ${what}` }),
      };
      const files = [{ name: MANIFEST_FILE, bytes: new TextEncoder().encode(JSON.stringify(built.manifest)) }, ...[...built.files].map(([name, bytes]) => ({ name, bytes }))];
      const card = cardOf(trained);
      if (selection.keep === 'current') return { info: modelInfo(), model: { files, card }, selection, trainedOn: normals };
      candidate = undefined;
      return { info: await useInp(trained), model: { files, card }, selection, trainedOn: normals };
    } finally {
      candidate?.dispose();
    }
  }

  /** The trained candidate against the detector in use, on the held-out normals and a synthetic defect on each. */
  async function validate(candidate: Detector, fitIds: string[], heldOut: string[], signal: AbortSignal, progress: (p: Progress) => void): Promise<Selection> {
    const decoded = (id: string) => decodeSource(images.get(id)!, images.get(id)!.name);
    const v = validationImages(heldOut.map(decoded), fitIds.slice(0, heldOut.length).map(decoded));
    const tick = progressCounter('validate', v.images.length * 2 + (inp ? 0 : fitIds.length), progress);
    const mapOf = (d: { predict: Detector['predict'] }, detail: string) => async (image: RgbImage) => {
      const input = preprocess(image, pre, undefined, 'validation image');
      const p = await d.predict({ data: input.data, shape: [1, 3, inputSize, inputSize] }, { mapSize: pre.mapSize });
      tick(detail);
      return { map: { width: p.width, height: p.height, data: p.maps[0] }, score: p.scores[0] };
    };
    const candidateFigures = await scoreDetector(v, mapOf(candidate, 'trained model'), signal);
    if (inp) return selectDetector(await scoreDetector(v, mapOf(inp.detector, 'model in use'), signal), candidateFigures);
    // The kNN in use holds the held-out normals in its bank: judge a kNN fitted on the training normals alone.
    const enc = await getEncoder();
    const knnNow = createKnnDetector(enc, await fitBank(enc, fitIds, signal, () => tick('kNN on the training normals')));
    try {
      const knnMap = mapOf({ predict: knnPredict(knnNow) }, 'kNN detector');
      return selectDetector(await scoreDetector(v, knnMap, signal), candidateFigures);
    } finally {
      knnNow.dispose();
    }
  }


  function dropRefinement(): void {
    refined?.detector.dispose();
    refined = undefined;
  }

  /**
   * INP-Former++ residual refinement of the model in use (src/pipeline/refine-job.ts): a head trained on the
   * normals' pseudo-anomalies and the accepted defects, continuing from the head in use if there is one. Its map
   * replaces the model's own only if it validates better on the held-out normals and defects; a cancelled or
   * failed run leaves everything as it was.
   */
  async function refine(normals: string[], defects: Array<{ id: string; mask: BinaryMask }>, steps: number, signal: AbortSignal, progress: (p: Progress) => void): Promise<RefineResult> {
    if (!Number.isSafeInteger(steps) || steps < 1) throw new Error(`steps must be a positive whole number, got ${steps}`);
    const of = inp ?? knn;
    if (!of) throw new Error('no model yet: mark a few images normal (3 or more) to start the kNN detector, then refine it');
    // At the working size, one image decoded at a time: a session of large photos never sits decoded in full at once,
    // and the accepted masks (drawn at the working size) line up with their images.
    const working = (id: string) => {
      const r = images.get(id);
      if (!r) throw new Error(`image ${id} is not registered with the model worker`);
      return atWorkingSize(r, decodeSource(r, r.name));
    };
    const encoderWeights = inp ? inp.encoderWeights : await nsfwjsWeights();
    const content: RefinableContent = inp ? inp.content : { kind: 'knn', knn: knn!.config, tensors: knnTensors(knn!.bank) };
    const head = refined?.of === of ? refined.head : undefined;
    const job = await runRefineJob({
      content: head ? { ...content, refine: head } as RefinableContent : content, preprocess: pre, where: info.name,
      ...(encoderWeights ? { encoderWeights } : {}),
      normals: normals.map(working),
      defects: defects.map((d) => ({ image: working(d.id), mask: d.mask })),
      train: { signal, seed: HEAD_SEED, steps },
      onProgress: progress,
    });
    const total = job.content.refine!.config.training.steps;
    const normalMaps: MapResult[] = [];
    if (job.selection.keep === 'candidate') {
      const weights = encoderWeights ? { encoderWeights } : {};
      if (!inp) {
        // The normals' maps calibrate the threshold: each from a bank of the other half, refined, as fit() makes them.
        const enc = await getEncoder();
        const folds = [normals.filter((_, i) => i % 2 === 0), normals.filter((_, i) => i % 2 === 1)];
        for (const [k, fold] of folds.entries()) {
          const bank = await fitBank(enc, folds[1 - k], signal, () => undefined);
          const foldContent: RefinableContent = { kind: 'knn', knn: { ...knn!.config, bankSize: bank.size, dim: bank.dim }, tensors: knnTensors(bank), refine: job.content.refine };
          const d = createDetector(foldContent, { preprocess: pre, where: info.name, ...weights });
          try {
            for (const id of fold) normalMaps.push(await predictWith(d.predict, id));
          } finally {
            d.dispose();
          }
        }
      }
      const detector = createDetector(job.content, { preprocess: pre, where: info.name, ...weights });
      dropRefinement();
      refined = { detector, of, head: job.content.refine!, normals: normals.length, defects: defects.length };
      await syncEngine();
      const base = inp ? inpInfo(inp) : info;
      info = {
        ...base, version: newVersion('refined'),
        description: `${base.description.replace(/ Refined by a head trained here.*$/, '')} Refined by a head trained here on ${normals.length} normals and ${defects.length} accepted defect${defects.length === 1 ? '' : 's'} (${total} steps).`,
      };
    }
    return { info: modelInfo(), selection: job.selection, normals: normals.length, defects: defects.length, steps: total, normalMaps };
  }

  async function handle(req: WorkerRequest, signal: AbortSignal, progress: (p: Progress) => void): Promise<{ value: unknown; transfer?: Transferable[] }> {
    switch (req.type) {
      case 'init': {
        pageInputSize = inputSize = req.inputSize;
        pre = cnnPreprocess('nsfwjs-mobilenetv2', inputSize);
        info = noModel();
        choose(req.engine ?? { engine: 'tfjs' });
        await platform.prepareBackends?.();
        // Asked by name, a backend is tried even in software; by default a software GPU is skipped, saying why.
        const skipped: Partial<Record<BackendName, string>> = req.backends ? {} : await platform.softwareGpuBackends?.() ?? {};
        const order = (req.backends ?? DEFAULT_BACKENDS).filter((b) => !skipped[b]);
        const { backend, failures } = await useFirstBackend(order);
        return { value: { backend, failures: [...Object.entries(skipped).map(([b, why]) => `${b}: ${why}`), ...failures], info: modelInfo() } };
      }
      case 'decode': {
        const r: Registered = { name: req.name, source: req.source, bytes: req.bytes, workWidth: 0, workHeight: 0 };
        const img = decodeSource(r, req.name);
        Object.assign(r, workingSize(img.width, img.height));
        images.set(req.id, r);
        // The model input now, while the full-size pixels are at hand (a huge image is decoded once).
        inputs.set(req.id, preprocess(img, pre, undefined, req.name).data);
        const out: DecodedImage = { width: img.width, height: img.height, workWidth: r.workWidth, workHeight: r.workHeight, image: atWorkingSize(r, img) };
        const buf = out.image.data.buffer;
        return { value: out, transfer: out.image.data.byteLength === buf.byteLength ? [buf] : [] };
      }
      case 'fit': {
        const r = await fit(req.normals, signal, progress);
        return { value: r, transfer: r.normals.map((n) => n.map.data.buffer) };
      }
      case 'predict': {
        if (!images.has(req.id)) throw new Error(`image ${req.id} is not registered with the model worker`);
        const d = inp ? inp.detector.predict : knn ? knnPredict(knn.detector) : undefined;
        if (!d) throw new Error('no model yet: mark a few images normal (3 or more) to start the kNN detector');
        const r = await predict(d, req.id);
        return { value: r, transfer: [r.map.data.buffer] };
      }
      case 'load-model': return { value: await loadModel(req.files, req.card) };
      case 'drop-model': return { value: await dropModel() };
      case 'engine': {
        choose(req.choice);
        await syncEngine();
        return { value: modelInfo() };
      }
      case 'train': {
        const r = await trainHead(req.job, req.normals, req.steps, signal, progress);
        return { value: r, transfer: r.model.files.map((f) => f.bytes.buffer) };
      }
      case 'refine': {
        const r = await refine(req.normals, req.defects, req.steps, signal, progress);
        return { value: r, transfer: r.normalMaps.map((n) => n.map.data.buffer) };
      }
      case 'memory': {
        const m = tf.memory();
        return { value: { numTensors: m.numTensors, numBytes: m.numBytes, onnxSessions } satisfies WorkerMemory };
      }
      case 'cancel': return { value: null };
    }
  }

  return { handle };
}
