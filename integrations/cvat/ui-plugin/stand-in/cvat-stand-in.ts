/**
 * STAND-IN, NOT CVAT. A faithful copy of the parts of CVAT our plugin meets, written from CVAT's source
 * (cvat-ai/cvat): cvat-core/src/plugins.ts (PluginRegistry.register / apiWrapper: enter hooks, preventMethodCall,
 * leave hooks in registration order), cvat-core/src/api.ts (lambda.list / lambda.call / jobs.get wrapped by
 * apiWrapper), cvat-ui/src/components/plugins-entrypoint.tsx (window.cvatUI.registerComponent, then a bubbling
 * 'plugins.ready' on document) and the detector branch of the AI Tools control (lambda.call with
 * {type: 'annotate_frame', mapping, conv_mask_to_poly, threshold, frame, job} → ObjectStates from `shapes`).
 * Frames are procedural samples: frames 0–3 normal, frame 4 with a scratch.
 */
import { encodeCvatMask } from '../../../../src/export/cvat-rle.ts';
import { makeSample } from '../../../../src/samples/surfaces.ts';
import { calibrationAt } from '../../../../src/threshold/confidence.ts';
import { ModelSession } from '../../../../components/state/model-session.ts';
import { anomalyBuilder, type CvatUI } from '../src/ts/register.ts';

type Fn = ((...a: unknown[]) => Promise<unknown>) & { implementation?: (...a: unknown[]) => Promise<unknown> };
type Decorator = { callback?: Fn; enter?: (...a: unknown[]) => unknown; leave?: (...a: unknown[]) => unknown };
const plugins: Array<{ functions: Decorator[] }> = [];

async function apiWrapper(wrapped: Fn, ...args: unknown[]): Promise<unknown> {
  let prevent = false;
  for (const p of plugins) {
    const d = p.functions.find((f) => f.callback === wrapped);
    const opt = d?.enter ? await d.enter(p, ...args) : undefined;
    if (opt instanceof Object && 'preventMethodCall' in opt) prevent = true;
  }
  let result: unknown = null;
  if (!prevent) result = await wrapped.implementation!(...args);
  for (const p of plugins) {
    const d = p.functions.find((f) => f.callback === wrapped);
    if (d?.leave) result = await d.leave(p, result, ...args);
  }
  return result;
}

class MLModel {
  constructor(private readonly s: Record<string, unknown>) {}
  get id() { return this.s.id as string; }
  get name() { return this.s.name as string; }
  get kind() { return this.s.kind as string; }
  get labels() { return (this.s.labels_v2 as unknown[]) ?? []; }
}

const frames = [0, 1, 2, 3].map((seed) => makeSample('brushed-metal', null, seed + 1, 256)).concat([makeSample('brushed-metal', 'scratch', 1000, 256)]);
const job = {
  id: 3, taskId: 2, startFrame: 0, stopFrame: frames.length - 1, labels: [{ id: 7, name: 'defect' }],
  frames: {
    async get(frame: number) {
      const { image } = frames[frame];
      return {
        width: image.width, height: image.height,
        async data() {
          const rgba = new Uint8ClampedArray(image.width * image.height * 4);
          for (let i = 0, j = 0; j < image.data.length; i += 4, j += 3) { rgba[i] = image.data[j]; rgba[i + 1] = image.data[j + 1]; rgba[i + 2] = image.data[j + 2]; rgba[i + 3] = 255; }
          return { imageData: await createImageBitmap(new ImageData(rgba, image.width, image.height)) };
        },
      };
    },
  },
};

const cvat = {
  // The server has no serverless functions in this stand-in, and any call that reaches it fails.
  lambda: { list: (async () => apiWrapper(cvat.lambda.list)) as Fn, call: (async (...a: unknown[]) => apiWrapper(cvat.lambda.call, ...a)) as Fn },
  jobs: { get: (async (q: unknown) => apiWrapper(cvat.jobs.get, q)) as Fn },
  plugins: {
    async register(plug: Record<string, unknown>) {
      const functions: Decorator[] = [];
      const traverse = (p: Record<string, unknown>, api: unknown) => {
        const d: Decorator = {};
        for (const k of Object.keys(p)) {
          if (typeof p[k] === 'object' && p[k] !== null) {
            if (typeof api !== 'function' && Object.prototype.hasOwnProperty.call(api, k)) traverse(p[k] as Record<string, unknown>, (api as Record<string, unknown>)[k]);
          } else if (['enter', 'leave'].includes(k) && typeof api === 'function' && typeof p[k] === 'function') {
            d.callback = api as Fn;
            d[k as 'enter' | 'leave'] = p[k] as Decorator['enter'];
          }
        }
        if (Object.keys(d).length) functions.push(d);
      };
      traverse(plug, { cvat });
      plugins.push(Object.assign(plug, { functions }));
    },
  },
  classes: { MLModel },
};
cvat.lambda.list.implementation = async () => ({ models: [], count: 0 });
cvat.lambda.call.implementation = async () => { throw new Error('stand-in server: no such function'); };
cvat.jobs.get.implementation = async () => [job];

const status = document.getElementById('status')!;
async function run(): Promise<void> {
  Object.defineProperty(window, 'cvatUI', { value: Object.freeze({ registerComponent: (b: (a: object) => unknown) => b({ core: cvat, store: null, dispatch: () => {} }) }) });
  // What index.tsx does in CVAT, with the wasm backend (WebGPU on this machine's software adapter is slow).
  window.addEventListener('plugins.ready', () => (window as unknown as { cvatUI: CvatUI }).cvatUI.registerComponent(anomalyBuilder(['wasm'])), { once: true });
  document.dispatchEvent(new CustomEvent('plugins.ready', { bubbles: true }));
  await cvat.jobs.get({ jobID: job.id });
  const { models } = await cvat.lambda.list() as { models: MLModel[] };
  const model = models.find((m) => m.kind === 'detector')!;
  const threshold = Number(new URLSearchParams(location.search).get('threshold') ?? 0.5);
  const res = await cvat.lambda.call(job.taskId, model, { type: 'annotate_frame', mapping: { defect: { name: 'defect', attributes: {} } }, conv_mask_to_poly: false, threshold, frame: 4, job: job.id }) as { shapes: Array<{ label_id: number; type: string; points: number[] }> };
  // The AI Tools control's step: ObjectStates of the job's label with the shapes' points.
  const states = res.shapes.map((s) => ({ shapeType: s.type, label: job.labels.find((l) => l.id === s.label_id)!.name, points: s.points, frame: 4 }));
  document.getElementById('shapes')!.textContent = JSON.stringify(states);
  // The expected mask: the same model's proposals for frame 4, asked for directly (no CVAT API in between).
  const direct = await ModelSession.start(['wasm']);
  const ids = [];
  for (const f of [0, 1, 2]) {
    await direct.register({ id: `f${f}`, name: `f${f}`, source: { kind: 'sample', surface: 'brushed-metal', defect: null, seed: f + 1, size: 256 } });
    ids.push(`f${f}`);
  }
  await direct.fitNormals(ids);
  await direct.register({ id: 'f4', name: 'f4', source: { kind: 'sample', surface: 'brushed-metal', defect: 'scratch', seed: 1000, size: 256 } });
  const img = await direct.proposals('f4', calibrationAt(direct.calibration(), threshold));
  document.getElementById('expected')!.textContent = JSON.stringify(img.regions.map((r) => encodeCvatMask(r.mask)));
  direct.dispose();
  status.textContent = `done: ${states.length} mask shape(s)`;
  document.body.dataset.ready = 'true';
}
run().catch((e: Error) => { status.textContent = `Error: ${e.message}`; document.body.dataset.ready = 'error'; });
