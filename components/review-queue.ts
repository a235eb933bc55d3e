import { LitElement, css, html, nothing } from 'lit';
import type { ImageStatus } from './state/session.ts';
import type { Action } from './state/shortcuts.ts';
import { emit } from './events.ts';

/** `score`: the model's image score, when it has one (ranks the list: most suspicious first). */
/** Where the model is with an image: no model yet, waiting its turn, being analysed, done, or failed (`error` says why). */
export type ImageAnalysis = 'no-model' | 'queued' | 'analysing' | 'ready' | 'failed';
export interface QueueImage {
  id: string; name: string; status: ImageStatus; accepted: number; pending: number; rejected: number; score?: number;
  analysis?: ImageAnalysis; error?: string;
}
export interface QueueProposal { key: string; label: string; score?: number; state: 'pending' | 'accepted' | 'rejected'; edited?: boolean }

/**
 * <inp-review-queue>: the image list with each image's state, and the current image's proposals with accept /
 * reject / edit, mark normal / defective and previous / next. Properties: images, current (id), proposals,
 * selected (proposal key), busy (text shown while the model works on this image). Emits inp-action for every
 * button; the same actions have keyboard shortcuts (<inp-shortcut-help>).
 *
 * @prop {QueueImage[]} images - The session's images with their status.
 * @prop {string | undefined} current - Id of the image on the canvas.
 * @prop {QueueProposal[]} proposals - The current image's proposals and decided regions.
 * @prop {string | undefined} selected - Key of the selected region.
 * @prop {string | undefined} busy - Id of an image whose map is being computed.
 * @fires inp-action - {action, key?, id?}: accept, reject, edit, open an image….
 * @fires inp-region-select - {key}: a region was picked in the list.
 */
export class ReviewQueue extends LitElement {
  static override properties = {
    images: { attribute: false }, current: { type: String }, proposals: { attribute: false }, selected: { type: String }, busy: { type: String },
    sortBy: { state: true }, show: { state: true },
  };
  static override styles = css`
    :host { display: flex; flex-direction: column; gap: .6rem; font: 13px system-ui, sans-serif; color: #1d2330; min-height: 0; }
    h3 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: #5a6478; margin: .2rem 0; }
    .nav { display: flex; gap: .4rem; align-items: center; }
    .nav .pos { flex: 1; text-align: center; font-weight: 600; }
    button { font: inherit; border: 1px solid #c4cbd8; background: #fff; border-radius: 4px; padding: .25rem .55rem; cursor: pointer; }
    button:hover { background: #eef2f8; }
    button.ok { border-color: #1e9c52; color: #14703a; }
    button.no { border-color: #c83a3a; color: #a02020; }
    button[aria-pressed='true'] { background: #1d2330; color: #fff; }
    kbd { font: 11px ui-monospace, monospace; background: #eef0f4; border: 1px solid #c9ced8; border-radius: 3px; padding: 0 .25rem; margin-left: .25rem; color: #3a4254; }
    ul { list-style: none; margin: 0; padding: 0; overflow: auto; }
    .images { max-height: 40vh; border: 1px solid #dde1e8; border-radius: 4px; background: #fff; }
    .images li { display: flex; gap: .4rem; align-items: center; padding: .2rem .45rem; cursor: pointer; border-bottom: 1px solid #f0f2f5; }
    .images li[aria-current='true'] { background: #dfe8fb; font-weight: 600; }
    .name { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .name small { color: #6b7385; }
    .badge { border-radius: 999px; padding: 0 .45rem; font-size: 11px; }
    .unreviewed { background: #eceff4; color: #5a6478; }
    .normal { background: #d7f3e1; color: #14703a; }
    .defective { background: #fde2e1; color: #a02020; }
    .props li { display: flex; gap: .35rem; align-items: center; padding: .3rem .4rem; border: 1px solid #dde1e8; border-radius: 4px; margin-bottom: .3rem; background: #fff; }
    .props li[aria-selected='true'] { outline: 2px solid #3467d6; }
    .props .pending { border-left: 4px solid #ffc400; }
    .props .accepted { border-left: 4px solid #1ec85a; }
    .props .rejected { border-left: 4px solid #e63232; opacity: .6; }
    .view { display: flex; gap: .5rem; align-items: center; font-size: 12px; color: #3a4254; }
    .view select { font: inherit; }
    .view .count { margin-left: auto; color: #6b7385; }
    .busy { color: #3467d6; }
    .an { font-size: 12px; color: #6b7385; width: 1em; text-align: center; }
    .an.analysing { color: #3467d6; }
    .an.failed { color: #a02020; font-weight: 700; }
    .empty { color: #6b7385; font-style: italic; }
  `;
  declare images: QueueImage[];
  declare current?: string;
  declare proposals: QueueProposal[];
  declare selected?: string;
  declare busy?: string;
  /** How the list is ordered and which images it shows: the reviewer's view, not the session's order. @internal */
  declare sortBy: 'session' | 'path' | 'score';
  declare show: 'all' | ImageStatus;

  // Declared, not initialised as class fields: under a consumer's useDefineForClassFields a field would shadow
  // Lit's reactive accessor (setting it would not re-render). Defaults are set here instead.
  constructor() {
    super();
    this.sortBy = 'session';
    this.show = 'all';
    this.images = [];
    this.proposals = [];
  }

  private act(action: Action, extra: { key?: string; id?: string } = {}) {
    emit(this, 'inp-action', { action, ...extra });
  }

  override render() {
    const i = this.images.findIndex((im) => im.id === this.current);
    const cur = this.images[i];
    return html`
      <div class="nav">
        <button @click=${() => this.act('prev-image')} title="Previous image">◀<kbd>←</kbd></button>
        <span class="pos" data-testid="position">${i >= 0 ? `${i + 1} / ${this.images.length}` : '–'}</span>
        <button @click=${() => this.act('next-image')} title="Next image"><kbd>→</kbd>▶</button>
      </div>
      ${cur ? html`
        <div class="nav">
          <button class="ok" data-testid="mark-normal" aria-pressed=${cur.status === 'normal'} @click=${() => this.act('mark-normal')}>Normal<kbd>G</kbd></button>
          <button class="no" data-testid="mark-defective" aria-pressed=${cur.status === 'defective'} @click=${() => this.act('mark-defective')}>Defective<kbd>D</kbd></button>
        </div>
        <h3>Proposals</h3>
        ${this.busy ? html`<p class="busy" role="status">${this.busy}</p>` : nothing}
        ${this.proposals.length ? html`
          <ul class="props" role="listbox" aria-label="Proposals">
            ${this.proposals.map((p) => html`
              <li class=${p.state} role="option" aria-selected=${p.key === this.selected} data-key=${p.key} data-state=${p.state}
                  @click=${() => emit(this, 'inp-region-select', { key: p.key })}>
                <span class="name">${p.label}${p.score !== undefined ? html` · ${p.score.toFixed(2)}` : nothing}${p.edited ? ' · edited' : ''}</span>
                ${p.state !== 'accepted' ? html`<button class="ok" title="Accept (A)" @click=${(e: Event) => { e.stopPropagation(); this.act('accept', { key: p.key }); }}>✓</button>` : nothing}
                ${p.state !== 'rejected' ? html`<button class="no" title="Reject (R)" @click=${(e: Event) => { e.stopPropagation(); this.act('reject', { key: p.key }); }}>✗</button>` : nothing}
                <button title="Edit with the brush (E)" @click=${(e: Event) => { e.stopPropagation(); this.act('edit', { key: p.key }); }}>✎</button>
              </li>`)}
          </ul>
          <button @click=${() => this.act('accept-all')}>Accept all pending<kbd>⇧A</kbd></button>`
        : this.busy ? nothing : html`<p class="empty" data-testid="analysis">${emptyText(cur)}</p>`}
      ` : nothing}
      <h3>Images</h3>
      ${this.images.length ? nothing : html`<p class="empty" data-testid="no-images">No images yet: <b>Open images…</b> or <b>Open folder…</b> to start.</p>`}
      <div class="view">
        <label>Sort <select data-testid="queue-sort" @change=${(e: Event) => { this.sortBy = (e.target as HTMLSelectElement).value as ReviewQueue['sortBy']; }}>
          <option value="session" ?selected=${this.sortBy === 'session'}>as added</option>
          <option value="path" ?selected=${this.sortBy === 'path'}>by path</option>
          <option value="score" ?selected=${this.sortBy === 'score'}>most suspicious first</option>
        </select></label>
        <label>Show <select data-testid="queue-filter" @change=${(e: Event) => { this.show = (e.target as HTMLSelectElement).value as ReviewQueue['show']; }}>
          ${(['all', 'unreviewed', 'defective', 'normal'] as const).map((v) => html`<option value=${v} ?selected=${this.show === v}>${v}</option>`)}
        </select></label>
        <span class="count">${this.listed().length}/${this.images.length}</span>
      </div>
      <ul class="images" role="listbox" aria-label="Images">
        ${this.listed().map((im) => html`
          <li aria-current=${im.id === this.current} data-id=${im.id} @click=${() => this.act('open-image', { id: im.id })}>
            <span class="name" title=${im.name}>${fileName(im.name)}${folderOf(im.name) ? html` <small>${folderOf(im.name)}</small>` : nothing}</span>
            ${im.analysis === 'queued' || im.analysis === 'analysing' || im.analysis === 'failed'
              ? html`<span class="an ${im.analysis}" data-analysis=${im.analysis} title=${im.error ?? ANALYSIS_TITLE[im.analysis]}>${ANALYSIS_MARK[im.analysis]}</span>` : nothing}
            ${im.accepted ? html`<span class="badge defective">${im.accepted}✓</span>` : nothing}
            <span class="badge ${im.status}">${im.status}</span>
          </li>`)}
      </ul>
    `;
  }

  /**
   * The image `step` places from `id` in the list as shown (sorted and filtered), so Next / Previous walk what the
   * reviewer sees; with `unreviewed`, the next shown image still unreviewed. From an image the filter hides, the
   * first (or last) shown. Undefined past either end.
   */
  adjacent(id: string | undefined, step: 1 | -1, unreviewed = false): string | undefined {
    const shown = this.listed();
    const at = shown.findIndex((im) => im.id === id);
    const from = at < 0 ? (step > 0 ? -1 : shown.length) : at;
    for (let k = from + step; k >= 0 && k < shown.length; k += step) {
      if (!unreviewed || shown[k].status === 'unreviewed') return shown[k].id;
    }
    return undefined;
  }

  /** The images as the reviewer asked to see them. */
  private listed(): QueueImage[] {
    const shown = this.show === 'all' ? [...this.images] : this.images.filter((im) => im.status === this.show);
    if (this.sortBy === 'path') shown.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
    // Unscored images (no map yet) go last, in session order.
    if (this.sortBy === 'score') shown.sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity));
    return shown;
  }

  protected override updated(): void {
    this.renderRoot.querySelector('.images li[aria-current="true"]')?.scrollIntoView({ block: 'nearest' });
  }
}

const ANALYSIS_MARK = { queued: '…', analysing: '⟳', failed: '!' } as const;
const ANALYSIS_TITLE = { queued: 'waiting for the model', analysing: 'the model is looking at it', failed: 'could not be analysed' } as const;

/** What the proposals panel says for an image without proposals, by where the model is with it. */
function emptyText(im: QueueImage): string {
  if (im.status === 'normal') return 'Marked normal: it feeds the model.';
  switch (im.analysis) {
    case 'no-model': return 'No model yet: mark a few normal images (G) and the model proposes defects on the others.';
    case 'queued': return 'Waiting for the model: it is analysing other images first.';
    case 'analysing': return 'Model is looking at this image…';
    case 'failed': return `Could not analyse this image: ${im.error ?? 'unknown error'}. Draw regions by hand (B, O), or mark the image.`;
    default: return 'No proposals. Draw one with the brush (B) or polygon (O), or mark the image.';
  }
}

/** The file's own name: what tells images apart in a list (the whole path is the row's title). */
function fileName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** The last two folders of a path, dimmed after the name (a dataset's "test/broken_large"). */
function folderOf(p: string): string {
  return p.split('/').slice(0, -1).slice(-2).join('/');
}

if (!customElements.get('inp-review-queue')) customElements.define('inp-review-queue', ReviewQueue);

declare global {
  interface HTMLElementTagNameMap { 'inp-review-queue': ReviewQueue }
}
