import { LitElement, css, html, nothing } from 'lit';
import { emit } from './events.ts';
import { CNN_RECIPE, DEFAULT_FINETUNE_MODE, describeFigures, type EngineName, FINETUNE_RECIPES, HOLD_OUT_EVERY, type ModelInfo, type ProgressLine, REFINE_STEPS, type RefineResult, type Selection } from '../src/web.ts';

/** Steps of a training run and of a fine-tuning until the user sets others: the recipes' (src/train/recipe.ts). */
const DEFAULT_STEPS = { train: CNN_RECIPE.steps, finetune: FINETUNE_RECIPES[DEFAULT_FINETUNE_MODE].steps, refine: REFINE_STEPS } as const;

const ENGINES: Record<EngineName, string> = { tfjs: 'tfjs', onnx: 'onnxruntime-web' };

/**
 * <inp-model-panel>: which backend runs the model, the engine that predicts (tfjs, or onnxruntime-web with its
 * provider) and why onnxruntime-web is not running when it failed, the model card, fit / train / fine-tune (each
 * with its number of steps) with a progress bar, ETA and cancel, and loading a model from files or a URL.
 * Properties: backend (tfjs's), backendNote (why others were skipped), info, progress (while a job or download
 * runs), normals (how many images are marked normal), untrained (normals the INP-Former has not been trained on yet:
 * Fine-tune offers them). Emits inp-model-action, inp-model-engine, inp-model-files and inp-model-url.
 *
 * @prop {string | undefined} backend - The tfjs backend in use.
 * @prop {string} backendNote - Why other backends were skipped.
 * @prop {ModelInfo | undefined} info - The model in use, its card and engine.
 * @prop {{ selection: Selection; inUse: boolean } | undefined} validation - The last training's validation figures.
 * @prop {RefineResult | undefined} refinement - The last refinement's held-out figures (raw and refined map) and outcome.
 * @prop {number} defects - Images marked defective with accepted regions (what Refine learns from besides the normals).
 * @prop {ProgressLine | undefined} progress - The running job's progress (download, fit, train…).
 * @prop {boolean} cancelling - Cancel was pressed and the job has not stopped yet.
 * @prop {number} normals - Normal images in the session.
 * @prop {number} untrained - Normals the model has not learnt from yet.
 * @fires inp-model-action - {action[, steps]}: fit, train, finetune, refine, cancel or use-trained.
 * @fires inp-model-engine - {engine}: predict with tfjs or onnx from now on.
 * @fires inp-model-files - {files}: model files the user chose.
 * @fires inp-model-url - {url}: load a model from a URL.
 */
export class ModelPanel extends LitElement {
  static override properties = {
    backend: { type: String }, backendNote: { type: String }, info: { attribute: false }, progress: { attribute: false }, cancelling: { type: Boolean }, validation: { attribute: false }, refinement: { attribute: false }, defects: { type: Number }, normals: { type: Number },
    untrained: { type: Number }, steps: { state: true },
  };
  static override styles = css`
    :host { display: block; font: 13px system-ui, sans-serif; }
    .backend { display: inline-block; background: #1d2330; color: #fff; border-radius: 999px; padding: .1rem .6rem; font-weight: 600; }
    .note { color: #6b7385; font-size: 11px; }
    .note.failure { color: #9b1c1c; }
    select { font: inherit; border: 1px solid #c4cbd8; border-radius: 4px; padding: .1rem .2rem; background: #fff; }
    .card { border: 1px solid #dde1e8; background: #fff; border-radius: 4px; padding: .45rem .55rem; margin: .45rem 0; }
    .card b { display: block; }
    .card p { margin: .2rem 0; color: #3a4254; }
    .row { display: flex; gap: .35rem; flex-wrap: wrap; align-items: center; }
    button { font: inherit; border: 1px solid #c4cbd8; background: #fff; border-radius: 4px; padding: .25rem .55rem; cursor: pointer; }
    button:disabled { opacity: .5; cursor: not-allowed; }
    button.offer:not(:disabled) { border-color: #2f6fdf; background: #e8f0fe; font-weight: 600; }
    .train { display: grid; grid-template-columns: max-content 5.5em max-content; gap: .3rem .35rem; align-items: center; justify-items: start; margin: .35rem 0; }
    .train input { width: 100%; box-sizing: border-box; font: inherit; border: 1px solid #c4cbd8; border-radius: 4px; padding: .15rem .3rem; }
    progress { width: 100%; }
    label.file { border: 1px dashed #9aa3b5; border-radius: 4px; padding: .25rem .55rem; cursor: pointer; }
    label.file input { display: none; }
    form.url { margin-top: .35rem; }
    form.url input { flex: 1; min-width: 0; font: inherit; border: 1px solid #c4cbd8; border-radius: 4px; padding: .2rem .4rem; }
  `;
  declare backend?: string;
  declare backendNote: string;
  declare info?: ModelInfo;
  /** The last training's validation: both detectors' figures, and whether the trained model is the one in use. */
  declare validation?: { selection: Selection; inUse: boolean };
  /** The last refinement: raw and refined map on the held-out images, and which one is in use. */
  declare refinement?: RefineResult;
  declare defects: number;
  declare progress?: ProgressLine;
  /** Cancel was pressed; the job stops at its next check (between images of a training step). */
  declare cancelling: boolean;
  declare normals: number;
  declare untrained: number;
  declare steps: Record<keyof typeof DEFAULT_STEPS, number>;

  // Declared, not initialised as class fields: under a consumer's useDefineForClassFields a field would shadow
  // Lit's reactive accessor (setting it would not re-render). Defaults are set here instead.
  constructor() {
    super();
    this.backendNote = '';
    this.normals = 0;
    this.untrained = 0;
    this.defects = 0;
    this.cancelling = false;
    this.steps = { ...DEFAULT_STEPS };
  }

  override render() {
    const busy = !!this.progress;
    const p = this.progress;
    const inp = this.info?.kind === 'inp-former';
    const engine = this.info?.engine;
    const tunable = !!this.info?.trainable;
    const trainTitle = inp ? `Train the whole head on the ${this.normals} normals`
      : `Train an INP-Former head on the nsfwjs encoder from the ${this.normals} normals; it then replaces the kNN detector`;
    const tuneTitle = !tunable ? 'Needs an INP-Former head: Train one on the normals, or load a checkpoint or model folder'
      : `Fine-tune the model in use (${DEFAULT_FINETUNE_MODE === 'full' ? 'whole head' : DEFAULT_FINETUNE_MODE}) on the ${this.normals} normals${this.untrained ? ` (${this.untrained} not trained on yet)` : ''}`;
    const few = this.normals < HOLD_OUT_EVERY;
    const fewTitle = `Mark at least ${HOLD_OUT_EVERY} images normal: every ${HOLD_OUT_EVERY}th is held out to check the trained model against the one in use`;
    return html`
      <div class="row"><span>Backend</span><span class="backend" data-testid="backend">${this.backend ?? 'starting…'}</span></div>
      ${this.backendNote ? html`<div class="note" title=${this.backendNote}>${this.backendNote}</div>` : nothing}
      <div class="row">
        <label>Engine <select data-testid="engine-choice" ?disabled=${busy || !engine} .value=${engine?.engine ?? 'tfjs'}
          @change=${(e: Event) => emit(this, 'inp-model-engine', { engine: (e.target as HTMLSelectElement).value as EngineName })}>
          ${Object.entries(ENGINES).map(([k, label]) => html`<option value=${k} ?selected=${(engine?.engine ?? 'tfjs') === k}>${label}</option>`)}
        </select></label>
        <span class="backend" data-testid="engine">${!engine ? 'starting…' : engine.engine === 'tfjs' ? `tfjs · ${this.backend ?? '…'}` : `onnxruntime-web · ${engine.provider ?? 'starts with the model'}`}</span>
      </div>
      ${engine?.failure ? html`<div class="note failure" role="alert" data-testid="engine-failure">${engine.failure}</div>` : nothing}
      ${engine?.skipped?.length ? html`<div class="note">skipped: ${engine.skipped.join('; ')}</div>` : nothing}
      <div class="card" data-testid="model-card">
        <b>${this.info?.name ?? 'no model'}</b>
        <p>${this.info?.description ?? ''}</p>
        <p class="note">${this.info ? `${this.info.kind === 'none' ? 'not fitted yet' : `${this.info.normals} normals`} · input ${this.info.inputSize}px · ${this.info.license}` : ''}</p>
      </div>
      <div class="row">
        <button data-testid="fit" ?disabled=${busy || this.normals < 1} @click=${() => emit(this, 'inp-model-action', { action: 'fit' })}
          title=${inp ? `Replace the INP-Former by a kNN detector fitted on the ${this.normals} normal images (the INP-Former is discarded)`
            : `Rebuild the kNN memory bank from the ${this.normals} normal images`}>Fit kNN (${this.normals})</button>
        <label class="file" title="manifest.json + weights.safetensors, or an INP-Former .pth / .safetensors">Load model…
          <input type="file" multiple accept=".pth,.safetensors,.json" data-testid="model-file"
            @change=${(e: Event) => { const i = e.target as HTMLInputElement; emit(this, 'inp-model-files', { files: [...(i.files ?? [])] }); i.value = ''; }}></label>
      </div>
      ${this.validationNote()}
      <div class="train">
        ${this.trainRow('train', 'Train', few ? fewTitle : trainTitle, busy || few)}
        ${this.trainRow('finetune', `Fine-tune${this.untrained ? ` (${this.untrained} new)` : ''}`, few && tunable ? fewTitle : tuneTitle, busy || !tunable || few, this.untrained > 0)}
        ${this.trainRow('refine', `Refine map (${this.defects} defect${this.defects === 1 ? '' : 's'})`, few ? fewTitle : !this.info || this.info.kind === 'none' ? 'Needs a model in use: mark a few images normal first'
          : `Sharpen the model's map with a small head trained on the ${this.normals} normals (synthetic defects pasted on them) and ${this.defects} accepted defect${this.defects === 1 ? '' : 's'}; kept only if its map is tighter on held-out images`,
        busy || few || !this.info || this.info.kind === 'none')}
      </div>
      ${this.refinementNote()}
      <form class="row url" @submit=${(e: Event) => this.submitUrl(e)}>
        <input name="url" placeholder="or a URL: .pth, .safetensors, manifest.json" aria-label="Model URL" data-testid="model-url" ?disabled=${busy}>
        <button data-testid="model-url-load" ?disabled=${busy}>Load</button>
      </form>
      ${p ? html`
        <div role="status" data-testid="model-progress">
          ${p.total > 0 ? html`<progress max=${p.total} value=${p.done}></progress>` : html`<progress></progress>`}
          <div class="row">
            <span>${p.label}${p.detail ? ` · ${p.detail}` : ''} · ${amount(p)}${p.etaSeconds !== undefined ? ` · ETA ${eta(p.etaSeconds)}` : ''}</span>
            <button data-testid="model-cancel" ?disabled=${this.cancelling} @click=${() => emit(this, 'inp-model-action', { action: 'cancel' })}>${this.cancelling ? 'Cancelling…' : 'Cancel'}</button>
          </div>
        </div>` : nothing}
    `;
  }

  /** Why the model in use is the one in use after a training: both figures on the held-out images. */
  private validationNote() {
    const v = this.validation;
    if (!v) return nothing;
    const { selection: s } = v;
    const kept = s.keep === 'candidate';
    return html`
      <div class="note validation" data-testid="validation">
        <div>Trained model: ${describeFigures(s.candidate)}</div>
        <div>Model it was checked against: ${describeFigures(s.current)}</div>
        <div><b>${kept ? 'The trained model scored higher and is in use.' : v.inUse ? 'The trained model is in use (your choice).' : 'The trained model scored no higher: the previous model stays in use.'}</b></div>
        ${!kept && !v.inUse ? html`<button data-testid="use-trained" ?disabled=${!!this.progress} @click=${() => emit(this, 'inp-model-action', { action: 'use-trained' })}>Use the trained model anyway</button>` : nothing}
      </div>`;
  }

  /** The last refinement: both maps' figures on the held-out images, and which map is in use. */
  private refinementNote() {
    const r = this.refinement;
    if (!r) return nothing;
    const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
    const { current: raw, candidate: refined } = r.selection;
    return html`
      <div class="note validation" data-testid="refinement">
        <div>Refined map: pixel AP ${pct(refined.pixelAp)}, ${describeFigures(refined)}</div>
        <div>Model's own map: pixel AP ${pct(raw.pixelAp)}, ${describeFigures(raw)}</div>
        <div><b>${r.selection.keep === 'candidate' ? 'The refined map is tighter and is in use.' : 'The refined map was no tighter: the model\'s own map stays in use.'}</b></div>
      </div>`;
  }

  /** A training button and its steps input (the value travels with the action; the worker checks it). */
  private trainRow(action: keyof typeof DEFAULT_STEPS, label: string, title: string, disabled: boolean, offer = false) {
    return html`
      <button data-testid=${action} class=${offer ? 'offer' : ''} ?disabled=${disabled} title=${title}
        @click=${() => emit(this, 'inp-model-action', { action, steps: this.steps[action] })}>${label}</button>
      <input type="number" min="1" step="1" data-testid="${action}-steps" aria-label="${label} steps" .value=${String(this.steps[action])}
        @input=${(e: Event) => { this.steps = { ...this.steps, [action]: (e.target as HTMLInputElement).valueAsNumber }; }}>
      <span class="note">steps</span>`;
  }

  private submitUrl(e: Event): void {
    e.preventDefault();
    const input = (e.target as HTMLFormElement).elements.namedItem('url') as HTMLInputElement;
    const url = input.value.trim();
    if (url) emit(this, 'inp-model-url', { url });
  }
}

/** "3/10", or "1.2/4.0 MB" for a download (total 0: unknown size). */
function amount(p: ProgressLine): string {
  const f = p.unit === 'bytes' ? (n: number) => (n / 1e6).toFixed(1) : String;
  return `${f(p.done)}${p.total > 0 ? `/${f(p.total)}` : ''}${p.unit === 'bytes' ? ' MB' : ''}`;
}

/** Seconds, or minutes once a training runs long enough for seconds to be noise. */
function eta(s: number): string {
  return s < 120 ? `${Math.ceil(s)} s` : `${Math.round(s / 60)} min`;
}

if (!customElements.get('inp-model-panel')) customElements.define('inp-model-panel', ModelPanel);

declare global {
  interface HTMLElementTagNameMap { 'inp-model-panel': ModelPanel }
}
