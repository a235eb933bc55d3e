import { LitElement, css, html, nothing } from 'lit';
import type { ModelInfo, WorkProgress } from '../src/worker/protocol.ts';
import { emit } from './events.ts';

/**
 * <inp-model-panel>: which backend runs the model, the model card, fit / fine-tune / train with a progress bar, ETA
 * and cancel, and loading a model from files or a URL. Properties: backend, backendNote (why others were skipped), info,
 * progress (while a job or download runs), normals (how many images are marked normal). Emits inp-model-action,
 * inp-model-files and inp-model-url.
 */
export class ModelPanel extends LitElement {
  static override properties = {
    backend: { type: String }, backendNote: { type: String }, info: { attribute: false }, progress: { attribute: false }, normals: { type: Number },
  };
  static override styles = css`
    :host { display: block; font: 13px system-ui, sans-serif; }
    .backend { display: inline-block; background: #1d2330; color: #fff; border-radius: 999px; padding: .1rem .6rem; font-weight: 600; }
    .note { color: #6b7385; font-size: 11px; }
    .card { border: 1px solid #dde1e8; background: #fff; border-radius: 4px; padding: .45rem .55rem; margin: .45rem 0; }
    .card b { display: block; }
    .card p { margin: .2rem 0; color: #3a4254; }
    .row { display: flex; gap: .35rem; flex-wrap: wrap; align-items: center; }
    button { font: inherit; border: 1px solid #c4cbd8; background: #fff; border-radius: 4px; padding: .25rem .55rem; cursor: pointer; }
    button:disabled { opacity: .5; cursor: not-allowed; }
    progress { width: 100%; }
    label.file { border: 1px dashed #9aa3b5; border-radius: 4px; padding: .25rem .55rem; cursor: pointer; }
    label.file input { display: none; }
    form.url { margin-top: .35rem; }
    form.url input { flex: 1; min-width: 0; font: inherit; border: 1px solid #c4cbd8; border-radius: 4px; padding: .2rem .4rem; }
  `;
  backend?: string;
  backendNote = '';
  info?: ModelInfo;
  progress?: WorkProgress;
  normals = 0;

  override render() {
    const busy = !!this.progress;
    const p = this.progress;
    const trainable = !!this.info?.trainable;
    const untrainable = 'Needs an INP-Former head: load a checkpoint or model folder (INP-Former on the nsfwjs encoder is in progress)';
    return html`
      <div class="row"><span>Backend</span><span class="backend" data-testid="backend">${this.backend ?? 'starting…'}</span></div>
      ${this.backendNote ? html`<div class="note" title=${this.backendNote}>${this.backendNote}</div>` : nothing}
      <div class="card" data-testid="model-card">
        <b>${this.info?.name ?? 'no model'}</b>
        <p>${this.info?.description ?? ''}</p>
        <p class="note">${this.info ? `${this.info.kind === 'none' ? 'not fitted yet' : `${this.info.normals} normals`} · input ${this.info.inputSize}px · ${this.info.license}` : ''}</p>
      </div>
      <div class="row">
        <button data-testid="fit" ?disabled=${busy || this.normals < 1 || this.info?.kind === 'inp-former'} @click=${() => emit(this, 'inp-model-action', { action: 'fit' })}
          title="Rebuild the kNN memory bank from the ${this.normals} normal images">Fit kNN (${this.normals})</button>
        <button ?disabled=${busy || !trainable} title=${trainable ? 'Fine-tune the INP tokens on the normals' : untrainable} @click=${() => emit(this, 'inp-model-action', { action: 'finetune' })}>Fine-tune</button>
        <button ?disabled=${busy || !trainable} title=${trainable ? 'Train the whole head on the normals' : untrainable} @click=${() => emit(this, 'inp-model-action', { action: 'train' })}>Train</button>
        <label class="file" title="manifest.json + weights.safetensors, or an INP-Former .pth / .safetensors">Load model…
          <input type="file" multiple accept=".pth,.safetensors,.json" data-testid="model-file"
            @change=${(e: Event) => { const i = e.target as HTMLInputElement; emit(this, 'inp-model-files', { files: [...(i.files ?? [])] }); i.value = ''; }}></label>
      </div>
      <form class="row url" @submit=${(e: Event) => this.submitUrl(e)}>
        <input name="url" placeholder="or a URL: .pth, .safetensors, manifest.json" aria-label="Model URL" data-testid="model-url" ?disabled=${busy}>
        <button data-testid="model-url-load" ?disabled=${busy}>Load</button>
      </form>
      ${p ? html`
        <div role="status" data-testid="model-progress">
          ${p.total > 0 ? html`<progress max=${p.total} value=${p.done}></progress>` : html`<progress></progress>`}
          <div class="row">
            <span>${p.stage}${p.detail ? ` · ${p.detail}` : ''} · ${amount(p)}${p.etaSeconds !== undefined ? ` · ETA ${Math.ceil(p.etaSeconds)} s` : ''}</span>
            <button @click=${() => emit(this, 'inp-model-action', { action: 'cancel' })}>Cancel</button>
          </div>
        </div>` : nothing}
    `;
  }

  private submitUrl(e: Event): void {
    e.preventDefault();
    const input = (e.target as HTMLFormElement).elements.namedItem('url') as HTMLInputElement;
    const url = input.value.trim();
    if (url) emit(this, 'inp-model-url', { url });
  }
}

/** "3/10", or "1.2/4.0 MB" for a download (total 0: unknown size). */
function amount(p: WorkProgress): string {
  const f = p.unit === 'bytes' ? (n: number) => (n / 1e6).toFixed(1) : String;
  return `${f(p.done)}${p.total > 0 ? `/${f(p.total)}` : ''}${p.unit === 'bytes' ? ' MB' : ''}`;
}

if (!customElements.get('inp-model-panel')) customElements.define('inp-model-panel', ModelPanel);

declare global {
  interface HTMLElementTagNameMap { 'inp-model-panel': ModelPanel }
}
