import { encodeCvatMask } from '../../../../../src/export/cvat-rle.ts';
import { encodePng } from '../../../../../src/image/encode-png.ts';
import { calibrationAt } from '../../../../../src/threshold/confidence.ts';
import type { ModelSession } from '../../../../../components/state/model-session.ts';

/**
 * A cvat-core plugin (core.plugins.register) that makes our in-browser model a detector in CVAT's AI Tools, the way
 * CVAT's Segment Anything plugin makes its decoder run in the browser (cvat-ui/plugins/sam): `lambda.list` gains a
 * detector that exists nowhere on the server, `lambda.call` for it is never sent (enter → preventMethodCall) and its
 * `leave` returns what CVAT's server would (`{tags, shapes}`, mask shapes with CVAT RLE points), so CVAT's own
 * detector runner (label mapping, Threshold field) creates the shapes. The threshold is a 0–1 confidence on our
 * normalised score: 0.5 = the calibrated threshold, as in serve-cvat.
 */

export const MODEL_ID = 'inp-former-browser';
export const MODEL_LABEL = 'defect';

/** The parts of cvat-core's API the plugin touches (cvat-core/src: session.ts Job, frames.ts FrameData, ml-model.ts). */
export interface CvatFrameData { width: number; height: number; data(): Promise<{ imageData: ImageBitmap | ImageData }> }
export interface CvatJob { id: number; taskId: number; startFrame: number; stopFrame: number; labels: Array<{ id: number; name: string }>; frames: { get(frame: number): Promise<CvatFrameData> } }
export interface CvatModel { id: string | number }
export interface CvatCore { classes: { MLModel: new (serialized: Record<string, unknown>) => CvatModel } }
/** The request body CVAT's detector runner sends (components/model-runner-modal/detector-runner.tsx), plus frame and job. */
export interface AnnotateFrameBody { mapping: Record<string, { name: string }>; threshold?: number; frame: number; job: number }
export interface DetectorResults { tags: []; shapes: CvatShape[] }
export interface CvatShape {
  type: 'mask'; frame: number; label_id: number; points: number[]; occluded: false; outside: false; z_order: 0;
  rotation: 0; group: 0; source: 'auto'; attributes: []; elements: [];
}

export interface PluginOptions {
  core: CvatCore;
  /** The model, started once on first use. */
  session: () => Promise<ModelSession>;
  /** Frames of a job taken as normal (the memory bank); default its first three. */
  normalFrames?: (job: CvatJob) => number[];
}

/** A frame's pixels as PNG bytes, the form the model worker decodes. */
async function framePng(job: CvatJob, frame: number): Promise<Uint8Array> {
  const fd = await job.frames.get(frame);
  const { imageData } = await fd.data();
  const canvas = new OffscreenCanvas(fd.width, fd.height);
  const ctx = canvas.getContext('2d')!;
  if (imageData instanceof ImageData) ctx.putImageData(imageData, 0, 0);
  else ctx.drawImage(imageData, 0, 0, fd.width, fd.height);
  const rgba = ctx.getImageData(0, 0, fd.width, fd.height).data;
  const rgb = new Uint8Array(fd.width * fd.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) { rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2]; }
  return encodePng({ width: fd.width, height: fd.height, channels: 3, data: rgb });
}

export function createAnomalyPlugin(o: PluginOptions) {
  const jobs = new Map<number, CvatJob>();
  const fitted = new Set<number>();
  let session: Promise<ModelSession> | undefined;
  const normalsOf = o.normalFrames ?? ((job: CvatJob) => [0, 1, 2].map((k) => job.startFrame + k).filter((f) => f <= job.stopFrame));

  async function register(s: ModelSession, job: CvatJob, frame: number): Promise<string> {
    const id = `${job.taskId}_${frame}`;
    if (!s.entries.has(id)) await s.register({ id, name: `frame ${frame}`, source: { kind: 'file', type: 'image/png' }, bytes: await framePng(job, frame) });
    return id;
  }

  async function detect(taskID: number, body: AnnotateFrameBody): Promise<DetectorResults> {
    const job = jobs.get(body.job) ?? [...jobs.values()].find((j) => j.taskId === taskID && body.frame >= j.startFrame && body.frame <= j.stopFrame);
    if (!job) throw new Error('Anomaly detector: the job of this frame is unknown (it is remembered when CVAT opens the job)');
    const target = body.mapping?.[MODEL_LABEL];
    if (!target) return { tags: [], shapes: [] };
    const label = job.labels.find((l) => l.name === target.name);
    if (!label) throw new Error(`Anomaly detector: the job has no label "${target.name}"`);
    session ??= o.session();
    const s = await session;
    if (!fitted.has(job.id)) {
      const normals = normalsOf(job);
      if (normals.length < 2) throw new Error('Anomaly detector: needs at least two normal frames to build and calibrate its memory bank');
      const ids = [];
      for (const f of normals) ids.push(await register(s, job, f));
      await s.fitNormals(ids);
      fitted.add(job.id);
    }
    const id = await register(s, job, body.frame);
    const img = await s.proposals(id, calibrationAt(s.calibration(), body.threshold ?? 0.5, 'threshold'));
    return {
      tags: [],
      shapes: img.regions.map((r): CvatShape => ({
        type: 'mask', frame: body.frame, label_id: label.id, points: encodeCvatMask(r.mask)!, occluded: false, outside: false,
        z_order: 0, rotation: 0, group: 0, source: 'auto', attributes: [], elements: [],
      })),
    };
  }

  const model = new o.core.classes.MLModel({
    id: MODEL_ID, name: 'Anomaly detector (INP-Former, in the browser)', kind: 'detector', type: 'detector', version: 1,
    description: 'Training-free kNN on the nsfwjs MobileNetV2, run in this browser; threshold 0.5 = calibrated on the normal frames.',
    labels_v2: [{ id: 0, name: MODEL_LABEL, type: 'mask', attributes: [], sublabels: [] }],
  });

  return {
    name: 'Anomaly pre-annotation',
    description: 'Runs the INP-Former / kNN anomaly detector in the browser for the current frame and returns mask shapes',
    cvat: {
      jobs: {
        get: {
          async leave(_p: unknown, result: CvatJob[], query: { jobID?: number }) {
            if (typeof query?.jobID === 'number' && result[0]) jobs.set(query.jobID, result[0]);
            return result;
          },
        },
      },
      lambda: {
        list: {
          async leave(_p: unknown, result: { models: CvatModel[]; count: number }) {
            return { models: [...result.models, model], count: result.count + 1 };
          },
        },
        call: {
          async enter(_p: unknown, _taskID: number, m: CvatModel) {
            return m.id === MODEL_ID ? { preventMethodCall: true } : null;
          },
          async leave(_p: unknown, result: unknown, taskID: number, m: CvatModel, body: AnnotateFrameBody) {
            return m.id === MODEL_ID ? detect(taskID, body) : result;
          },
        },
      },
    },
  };
}
