import '../../../components/image-canvas.ts';
import '../../../components/sensitivity-control.ts';
import type { ImageCanvas } from '../../../components/image-canvas.ts';
import type { SensitivityControl } from '../../../components/sensitivity-control.ts';
import type { BinaryMask } from '../../../src/image/mask.ts';
import { decodeLabelStudioRle } from '../../../src/export/labelstudio-rle.ts';
import { buildLabelStudioTasks, labelStudioConfig, type LabelStudioPrediction } from '../../../src/export/labelstudio-tasks.ts';
import { adjustCalibration } from '../../../components/state/review.ts';
import { loadLabelStudio, type LsAnnotation, type LsStore } from './label-studio.ts';
import type { ModelSession } from '../../../components/state/model-session.ts';

/**
 * The Label Studio editor with our proposals: the real editor (BrushLabels config) gets the model's regions as the
 * task's prediction and as suggestions on the annotation, so Label Studio's own ✓ / ✗ (per region) accept or reject
 * them; beside it, our sensitivity knob (re-cuts the kept map, re-suggests) and the heat map. A submitted annotation goes
 * back to the model: no brush regions = a normal image (memory bank refit), regions = accepted defect masks (they
 * calibrate the threshold from then on).
 */

export interface EditorTask {
  id: number;
  /** The image as Label Studio loads it: a URL the page may fetch (same origin or CORS) or a data: URI. */
  image: string;
  name: string;
}

export interface Submission {
  taskId: number;
  /** Normal (no brush region) or defective. */
  status: 'normal' | 'defective';
  /** Decoded brush masks at the image's natural size, one per result. */
  masks: BinaryMask[];
  /** What Label Studio submitted (serializeAnnotation). */
  result: ReturnType<LsAnnotation['serializeAnnotation']>;
}

export interface EditorOptions {
  session: ModelSession;
  task: EditorTask;
  /** BrushLabels labels; the first labels our proposals. */
  labels?: string[];
  /** Each submission, after the model has learnt from it (hosts store it; Label Studio keeps nothing). */
  onSubmit?(s: Submission): void;
  /** The prediction as handed to Label Studio, each time the threshold re-cuts it. */
  onPrediction?(p: LabelStudioPrediction): void;
}

/** Interfaces of the standalone editor: the defaults minus task navigation, plus the suggestion toggle. */
const INTERFACES = [
  'panel', 'update', 'submit', 'controls', 'side-column', 'topbar', 'annotations:menu', 'annotations:current',
  'predictions:tabs', 'predictions:menu', 'auto-annotation', 'edit-history',
];

/** Mounts the editor into `lsRoot` and our controls into `panel`; resolves once Label Studio has loaded the task. */
export async function mountEditor(lsRoot: HTMLElement, panel: HTMLElement, o: EditorOptions): Promise<{ destroy(): void }> {
  const { session, task } = o;
  const id = `task-${task.id}`;
  const labels = o.labels ?? ['Defect'];
  const response = await fetch(task.image);
  if (!response.ok) throw new Error(`${task.image}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const decoded = await session.register({ id, name: task.name, source: { kind: 'file', type: response.headers.get('content-type') ?? '' }, bytes });

  let sensitivity = 0.5;
  const predictionAt = async (s: number): Promise<LabelStudioPrediction> => {
    const base = session.calibration();
    const img = await session.proposals(id, adjustCalibration(base, 1 - s));
    const [lsTask] = buildLabelStudioTasks([img], { model: session.info?.version ?? 'inp-former', calibration: base, label: labels[0] });
    o.onPrediction?.(lsTask.predictions[0]);
    return lsTask.predictions[0];
  };
  const first = await predictionAt(sensitivity);

  panel.innerHTML = `
    <inp-sensitivity></inp-sensitivity>
    <label class="heat"><input type="checkbox" checked data-testid="heatmap"> Heat map</label>
    <inp-image-canvas></inp-image-canvas>
    <p class="status" role="status"></p>`;
  const control = panel.querySelector('inp-sensitivity') as SensitivityControl;
  const canvas = panel.querySelector('inp-image-canvas') as ImageCanvas;
  const status = panel.querySelector('.status') as HTMLElement;
  const showModel = async () => {
    const cal = session.calibration();
    control.value = sensitivity;
    control.method = cal.method;
    control.raw = adjustCalibration(cal, 1 - sensitivity).pixelThreshold;
    canvas.image = decoded.image;
    canvas.map = (await session.predict(id)).map;
  };
  await showModel();
  panel.querySelector<HTMLInputElement>('[data-testid="heatmap"]')!.addEventListener('change', (e) => { canvas.heatmap = (e.target as HTMLInputElement).checked; });

  let store: LsStore | undefined;
  // Sensitivity moves are re-cut from the kept map; only the newest one is handed to the editor.
  let cut = 0;
  control.addEventListener('inp-sensitivity-input', async (e) => {
    sensitivity = e.detail.value;
    const mine = ++cut;
    try {
      const p = await predictionAt(sensitivity);
      if (mine !== cut || !store) return;
      store.annotationStore.selected.setSuggestions(p.result);
      await showModel();
      status.textContent = `${p.result.length} suggested region(s) at sensitivity ${sensitivity.toFixed(2)}`;
    } catch (err) {
      status.textContent = `Could not re-cut the proposals: ${(err as Error).message}`;
    }
  });

  const learn = async (annotation: LsAnnotation) => {
    const result = annotation.serializeAnnotation();
    const masks = result.filter((r) => r.type === 'brushlabels' && r.value.rle)
      .map((r, k) => decodeLabelStudioRle(r.value.rle!, r.original_width, r.original_height, `result[${k}].value.rle`));
    status.textContent = 'Learning from the submission…';
    try {
      await session.decide(id, masks);
      await showModel();
      const s: Submission = { taskId: task.id, status: masks.length ? 'defective' : 'normal', masks, result };
      status.textContent = `Submitted as ${s.status}${masks.length ? ` with ${masks.length} region(s)` : ''}; calibration: ${session.calibration().method}`;
      o.onSubmit?.(s);
    } catch (err) {
      status.textContent = `The model could not learn from this submission: ${(err as Error).message}`;
    }
  };

  const LabelStudio = await loadLabelStudio();
  let destroy = () => {};
  const loaded = new Promise<void>((resolve) => {
    const ls = new LabelStudio(lsRoot, {
      config: labelStudioConfig(labels),
      task: { id: task.id, data: { image: task.image }, annotations: [], predictions: [{ id: 1, ...first }] },
      interfaces: INTERFACES,
      user: { pk: 1, firstName: 'Annotator', lastName: '' },
      // After the store holds the task's prediction (onLabelStudioLoad comes before it, and loading the prediction
      // selects it): an annotation of the user's own, with our regions as suggestions; Label Studio draws ✓ / ✗ under each.
      onStorageInitialized(s) {
        store = s;
        const a = s.annotationStore.addAnnotation({ userGenerate: true });
        s.annotationStore.selectAnnotation(a.id);
        a.setSuggestions(first.result);
        status.textContent = `${first.result.length} suggested region(s) at sensitivity ${sensitivity.toFixed(2)}`;
        resolve();
      },
      onSubmitAnnotation: (_s, a) => { void learn(a); },
      onUpdateAnnotation: (_s, a) => { void learn(a); },
    });
    destroy = () => ls.destroy();
  });
  await loaded;
  return { destroy: () => destroy() };
}
