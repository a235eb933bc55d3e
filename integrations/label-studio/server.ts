import type http from 'node:http';
import { calibrationFor, DEFAULT_MAX_QUEUE, mapImages, serialQueue, type ServedModel } from '../../src/pipeline/served-model.ts';
import { proposeRegions, toAnnotatedImage } from '../../src/annotate/proposals.ts';
import { calibrationAt } from '../../src/threshold/confidence.ts';
import { decodeCocoRle, encodeCocoRle, type CocoRle } from '../../src/export/coco-rle.ts';
import { buildLabelStudioTasks, parseLabelStudioTasks } from '../../src/export/labelstudio-tasks.ts';
import type { BinaryMask } from '../../src/image/mask.ts';
import type { Calibration } from '../../src/types.ts';
import { createJsonServer, decodeUpload, HttpError, type JsonRequest } from '../../src/platform/node/http.ts';
import { HOLD_OUT_EVERY } from '../../src/selection/held-out.ts';
import { describeFigures, type Selection, type ValidationFigures } from '../../src/selection/validate.ts';
import { fetchTaskImage, type ImageSource } from './images.ts';
import { maskTarget, type MaskTarget } from './label-config.ts';

/**
 * Label Studio ML backend (label-studio-ml-backend's HTTP protocol, integrations.md §1.1): GET /health, POST /setup,
 * POST /predict (one brush prediction per task, one brushlabels result per region), POST /webhook (annotations
 * collect normals and accepted masks per project; START_TRAINING trains a new model version in the background).
 */

export const MODEL_CLASS = 'InpFormerAnomaly';

/** An annotated image kept for training: where Label Studio serves it, and its accepted mask (null = normal). */
/**
 * One submitted annotation, kept until training: the image's reference (fetched then) and the union of its brush
 * regions run-length encoded (an 8000² mask is 64 MB decoded, a few hundred bytes as runs), or null for a normal.
 */
export interface CollectedImage { task: number; image: string; mask: CocoRle | null }

/** Annotations a project keeps for training; past it, new ones are refused until a training or deletions. */
export const MAX_COLLECTED = 5000;

/** Fetched training data: bytes named for errors, with the accepted mask of each defective image. */
export interface TrainingData { normals: { bytes: Uint8Array; where: string }[]; defects: { bytes: Uint8Array; where: string; mask: BinaryMask }[] }

/** A trained version, and how it and the model in use scored on the held-out images. */
/** `refinement`: when accepted masks trained a refinement head on the version, its held-out pixel AP against the version's own map. */
export interface TrainedVersion { model: ServedModel; selection: Selection; refinement?: { kept: boolean; rawPixelAp: number; refinedPixelAp: number } }

/**
 * Trains a new model version from a project's collected images (kNN refit or INP-Former fine-tune, then calibration),
 * validated against `current`, the model the project uses now.
 */
export type Trainer = (data: TrainingData, version: string, current: ServedModel) => Promise<TrainedVersion>;

export interface LabelStudioBackendOptions {
  model: ServedModel;
  /** The BrushLabels label our regions get (default the config's first). */
  label?: string;
  images: ImageSource;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  maxPixels: number;
  /** Most tasks one /predict may carry. */
  maxTasks: number;
  /** /predict requests that may wait for the model; one more is refused with 503 at once (default 8). */
  maxQueue?: number;
  basicAuth?: { user: string; pass: string };
  /** Web pages allowed to call the backend from a browser (--allow-origin); none by default. */
  allowedOrigins?: readonly string[];
  train?: Trainer;
  log?: (line: string) => void;
}

interface Project {
  id: string;
  target?: MaskTarget;
  model: ServedModel;
  /** By annotation id: each submitted annotation is one sample. */
  collected: Map<number, CollectedImage>;
  trainings: number;
  training?: Promise<void>;
  /** The last finished training: its version, the version kept in use, and both validation figures. */
  lastTraining?: { version: string; kept: string; selection: Selection; refinement?: TrainedVersion['refinement'] };
  lastError?: string;
}

const HANDLED_EVENTS = ['ANNOTATION_CREATED', 'ANNOTATION_UPDATED', 'ANNOTATION_DELETED', 'ANNOTATIONS_DELETED', 'START_TRAINING'];

/** /health's account of a project's last training: which version stays in use, and why (both validation figures). */
function lastTrainingReport(t: NonNullable<Project['lastTraining']>) {
  const figures = (f: ValidationFigures) => ({
    pixel_auroc: f.pixelAuroc, image_auroc: f.imageAuroc, score: f.score, normals: f.normals, defects: f.defects, synthetic_defects: f.synthetic,
  });
  const r = t.refinement;
  return {
    version: t.version, kept: t.kept, trained: figures(t.selection.candidate), previous: figures(t.selection.current),
    ...(r ? { refinement: { kept: r.kept, raw_pixel_ap: r.rawPixelAp, refined_pixel_ap: r.refinedPixelAp } } : {}),
  };
}

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

function objectBody(body: unknown, endpoint: string): Record<string, any> {
  if (!isObject(body)) throw new HttpError(400, `${endpoint}: request body must be a JSON object`);
  return body;
}

/** "3.1718000000" (setup/predict) and 3 (webhook project.id) name the same project; none → the default one. */
export function projectId(p: unknown): string {
  if (isObject(p)) return projectId(p.id);
  if (typeof p === 'number' && Number.isInteger(p)) return String(p);
  if (typeof p === 'string') return p.split('.')[0];
  return '';
}

export function createLabelStudioBackend(o: LabelStudioBackendOptions): { server: http.Server; projects: Map<string, Project> } {
  const projects = new Map<string, Project>();
  const modelQueue = serialQueue({ maxWaiting: o.maxQueue ?? DEFAULT_MAX_QUEUE, deadlineMs: o.requestTimeoutMs, refuse: (reason) => new HttpError(503, reason) });
  const log = o.log ?? ((l: string) => console.error(l));

  const project = (id: string): Project => {
    let p = projects.get(id);
    if (!p) projects.set(id, p = { id, model: o.model, collected: new Map(), trainings: 0 });
    return p;
  };
  const targetOf = (p: Project, config: unknown, where: string): MaskTarget => {
    if (typeof config === 'string' && config.trim()) return (p.target = maskTarget(config, where, o.label));
    if (p.target) return p.target;
    throw new HttpError(400, `${where}: no labelling config: send it in the request or call /setup for project "${p.id}" first`);
  };

  /**
   * `params.sensitivity` of a /predict (Label Studio passes `params` through from the caller): the API's one 0–1
   * knob, 0.5 = the model's calibrated cut, higher proposes more. Returned as the cut's normalised score (1 − s).
   * Other params (e.g. `context`, for interactive backends) do not apply to a detector and are ignored.
   */
  function requestCut(params: unknown): number | undefined {
    if (params === undefined || params === null) return undefined;
    if (!isObject(params)) throw new HttpError(400, '/predict: "params" must be an object');
    const s = params.sensitivity;
    if (s === undefined || s === null) return undefined;
    if (typeof s !== 'number' || !Number.isFinite(s) || s < 0 || s > 1) {
      throw new HttpError(400, `/predict: params.sensitivity must be a number from 0 to 1 (0.5 = the model's calibrated cut, higher proposes more), got ${JSON.stringify(s)}`);
    }
    return 1 - s;
  }

  async function predict(req: JsonRequest) {
    const body = objectBody(req.body, '/predict');
    if (!Array.isArray(body.tasks)) throw new HttpError(400, '/predict: "tasks" must be a list of tasks');
    if (body.tasks.length > o.maxTasks) throw new HttpError(413, `/predict: ${body.tasks.length} tasks in one request; the limit is ${o.maxTasks}`);
    const p = project(projectId(body.project));
    const target = targetOf(p, body.label_config, '/predict: label_config');
    const at = requestCut(body.params);
    const refs = body.tasks.map((t: unknown, i: number) => {
      const at = `/predict: tasks[${i}]${isObject(t) && t.id !== undefined ? ` (task ${t.id})` : ''}.data.${target.dataKey}`;
      if (!isObject(t) || !isObject(t.data)) throw new HttpError(400, `/predict: tasks[${i}] must be a task with a "data" object`);
      return { ref: t.data[target.dataKey], at, task: t.id };
    });
    const bytes = await Promise.all(refs.map((r: { ref: unknown; at: string; task: unknown }) => fetchTaskImage(r.ref, o.images, r.at, r.task)));
    const model = p.model;
    const results = await modelQueue(async () => {
      // One image decoded at a time (its pixels dropped once mapped). A saved calibration cuts each map as it comes,
      // so only its proposals are kept; a raw --threshold normalises against the request's range, so its maps wait.
      const mapOne = async (i: number) => (await mapImages(model, [{ image: decodeUpload(bytes[i], refs[i].at, o.maxPixels), where: refs[i].at }]))[0];
      const images = [];
      let calibration: Calibration;
      if (model.threshold.kind === 'calibration') {
        calibration = at === undefined ? model.threshold.calibration : calibrationAt(model.threshold.calibration, at, '/predict: params.sensitivity');
        for (let i = 0; i < bytes.length; i++) {
          const m = await mapOne(i);
          images.push(toAnnotatedImage(`task-${i}`, proposeRegions(m.map, m.score, calibration, model.options)));
        }
      } else {
        const mapped = [];
        for (let i = 0; i < bytes.length; i++) mapped.push(await mapOne(i));
        calibration = calibrationFor(mapped.map((m) => m.map), model.threshold);
        if (at !== undefined) calibration = calibrationAt(calibration, at, '/predict: params.sensitivity');
        for (const [i, m] of mapped.entries()) images.push(toAnnotatedImage(`task-${i}`, proposeRegions(m.map, m.score, calibration, model.options)));
      }
      return buildLabelStudioTasks(images, { model: model.version, calibration, label: target.label }, target).map((t) => t.predictions[0]);
    }, req.signal);
    return { body: { results } };
  }

  function collect(p: Project, body: Record<string, any>, action: string) {
    const a = body.annotation;
    const task = body.task;
    if (!isObject(a) || typeof a.id !== 'number') throw new HttpError(400, `/webhook ${action}: "annotation" must be an object with a numeric id`);
    if (!isObject(task) || !isObject(task.data)) throw new HttpError(400, `/webhook ${action}: "task" must be a task with a "data" object`);
    const target = targetOf(p, body.project?.label_config, `/webhook ${action}: project.label_config`);
    if (a.was_cancelled) { p.collected.delete(a.id); return; }
    const [img] = parseLabelStudioTasks(JSON.stringify({ data: task.data, annotations: [a] }), `/webhook ${action} (task ${task.id}, annotation ${a.id})`,
      { from: 'annotations', fromName: target.fromName, ...(target.labelsName ? { labelsName: target.labelsName } : {}), dataKey: target.dataKey });
    let mask: BinaryMask | null = null;
    for (const r of img.regions) {
      mask ??= { width: r.mask.width, height: r.mask.height, data: new Uint8Array(r.mask.data.length) };
      r.mask.data.forEach((v, i) => { if (v) mask!.data[i] = 1; });
    }
    if (!p.collected.has(a.id) && p.collected.size >= MAX_COLLECTED) {
      throw new HttpError(413, `/webhook ${action}: project "${p.id}" already holds ${MAX_COLLECTED} annotations for training: start a training or delete some`);
    }
    p.collected.set(a.id, { task: task.id, image: task.data[target.dataKey], mask: mask && encodeCocoRle(mask) });
  }

  function startTraining(p: Project) {
    if (!o.train) throw new HttpError(501, '/webhook START_TRAINING: this backend was started without training');
    if (p.training) throw new HttpError(409, `/webhook START_TRAINING: project "${p.id}" is already training`);
    const samples = [...p.collected.values()];
    const normals = samples.filter((s) => !s.mask).length;
    if (normals < HOLD_OUT_EVERY) {
      throw new HttpError(400, `/webhook START_TRAINING: project "${p.id}" has ${normals} normal image(s) (${samples.length} annotated); training needs at least ${HOLD_OUT_EVERY}, since every ${HOLD_OUT_EVERY}th is held out to check the new version against the one in use: submit images without brush regions as normal`);
    }
    const version = `${o.model.version}.p${p.id || 'default'}-v${p.trainings + 1}`;
    const train = o.train;
    p.training = (async () => {
      const fetched = await Promise.all(samples.map(async (s) => {
        const where = `project ${p.id} task ${s.task}`;
        return { bytes: await fetchTaskImage(s.image, o.images, where, s.task), where, mask: s.mask && decodeCocoRle(s.mask, where) };
      }));
      const inUse = p.model;
      const { model: next, selection, refinement } = await train({
        normals: fetched.filter((f) => !f.mask),
        defects: fetched.filter((f) => f.mask).map((f) => ({ ...f, mask: f.mask! })),
      }, version, inUse);
      p.trainings++;
      p.lastError = undefined;
      p.lastTraining = { version, kept: selection.keep === 'candidate' ? version : inUse.version, selection, ...(refinement ? { refinement } : {}) };
      const figures = `${describeFigures(selection.candidate)}; ${inUse.version}: ${describeFigures(selection.current)}`;
      if (selection.keep === 'current') {
        // A version that validates no better never replaces the one in use; its model folder stays on disk.
        await modelQueue(async () => next.detector.dispose());
        log(`label-studio: project ${p.id}: trained ${version} on ${fetched.length} images, kept ${inUse.version} (${version}: ${figures})`);
        return;
      }
      p.model = next;
      // The base model serves other projects; a trained one is disposed once queued predictions are done with it.
      if (inUse !== o.model) await modelQueue(async () => inUse.detector.dispose());
      log(`label-studio: project ${p.id}: trained ${version} on ${fetched.length} images, now in use (${version}: ${figures})`);
    })().catch((e) => {
      p.lastError = (e as Error).message;
      log(`label-studio: project ${p.id}: training ${version} failed: ${p.lastError}`);
    }).finally(() => { p.training = undefined; });
    return { training: 'started', model_version: version, normals: samples.filter((s) => !s.mask).length, defective: samples.filter((s) => s.mask).length };
  }

  function webhook(req: JsonRequest) {
    const body = objectBody(req.body, '/webhook');
    const action = body.action;
    if (typeof action !== 'string') throw new HttpError(400, '/webhook: "action" must be a string (e.g. ANNOTATION_CREATED, START_TRAINING)');
    // Events this backend has no use for (PROJECT_UPDATED, LABEL_LINK_CREATED, …, and any a newer Label Studio adds)
    // are acknowledged as the ML SDK does: 200 {"status": "Unknown event"}, never refused.
    if (!HANDLED_EVENTS.includes(action)) return { body: { status: 'Unknown event' } };
    const p = project(projectId(body.project));
    if (action === 'START_TRAINING') return { status: 201, body: { status: 'ok', result: startTraining(p) } };
    if (action === 'ANNOTATION_CREATED' || action === 'ANNOTATION_UPDATED') collect(p, body, action);
    else {
      const gone = action === 'ANNOTATION_DELETED' ? [body.annotation] : body.annotations;
      if (!Array.isArray(gone) || gone.some((a) => !isObject(a) || typeof a.id !== 'number')) throw new HttpError(400, `/webhook ${action}: annotation ids missing`);
      for (const a of gone) p.collected.delete(a.id);
    }
    const all = [...p.collected.values()];
    return { status: 201, body: { status: 'ok', result: { project: p.id, normals: all.filter((s) => !s.mask).length, defective: all.filter((s) => s.mask).length } } };
  }

  const health = () => ({
    body: {
      status: 'UP', model_class: MODEL_CLASS, model_version: o.model.version,
      projects: Object.fromEntries([...projects.values()].map((p) => [p.id || 'default', {
        model_version: p.model.version, training: p.training ? 'running' : p.lastError ? `failed: ${p.lastError}` : 'idle', annotations: p.collected.size,
        ...(p.lastTraining ? { last_training: lastTrainingReport(p.lastTraining) } : {}),
      }])),
    },
  });

  const server = createJsonServer({
    maxBodyBytes: o.maxBodyBytes, requestTimeoutMs: o.requestTimeoutMs, ...(o.basicAuth ? { basicAuth: o.basicAuth } : {}), ...(o.allowedOrigins ? { allowedOrigins: o.allowedOrigins } : {}), log,
    routes: {
      'GET /': health,
      'GET /health': health,
      'GET /metrics': () => ({ body: {} }),
      'POST /setup': (req) => {
        const body = objectBody(req.body, '/setup');
        const p = project(projectId(body.project));
        if (body.schema !== undefined) targetOf(p, body.schema, '/setup: schema');
        return { body: { model_version: p.model.version } };
      },
      'POST /predict': predict,
      'POST /webhook': webhook,
    },
  });
  return { server, projects };
}
