import { LitElement, css, html } from 'lit';
import { emit, type ExportFormat } from './events.ts';

const FORMATS: Array<[ExportFormat, string, string]> = [
  ['coco', 'COCO JSON', 'coco.json: RLE masks, scores'],
  ['png-masks', 'PNG masks (zip)', 'masks.zip: a 0/255 mask and an instance-id PNG per image'],
  ['labelstudio', 'Label Studio JSON', 'tasks with brush predictions'],
  ['cvat', 'CVAT XML', 'CVAT for images 1.1 with <mask> shapes'],
  ['session', 'Session (JSON)', 'every decision and your images, to re-import later'],
];

/**
 * <inp-export-menu>: the export formats and session import. Properties: count (images that would be exported),
 * disabled. Emits inp-export (the host builds the file and downloads it) and inp-import-session.
 *
 * @prop {number} count - How many images an export would hold (shown in the note).
 * @prop {boolean} disabled - No export while the session is empty.
 * @prop {boolean} reviewedOnly - Export only the images marked normal or defective (attribute reviewed-only).
 * @fires inp-export - {format}: the user picked a format (coco, png-masks, labelstudio, cvat, session).
 * @fires inp-import-session - {file}: the user chose a session file to import.
 */
export class ExportMenu extends LitElement {
  static override properties = { count: { type: Number }, disabled: { type: Boolean }, reviewedOnly: { type: Boolean, attribute: 'reviewed-only' } };
  static override styles = css`
    :host { display: block; font: 13px system-ui, sans-serif; }
    .row { display: flex; gap: .35rem; flex-wrap: wrap; }
    button { font: inherit; border: 1px solid #c4cbd8; background: #fff; border-radius: 4px; padding: .25rem .55rem; cursor: pointer; }
    button:disabled { opacity: .5; }
    label.file { border: 1px dashed #9aa3b5; border-radius: 4px; padding: .25rem .55rem; cursor: pointer; }
    label.file input { display: none; }
    small { color: #6b7385; }
    .only { display: block; margin: .35rem 0 .1rem; font-size: 12px; color: #3a4254; }
  `;
  declare count: number;
  declare disabled: boolean;
  /** Export only the images marked normal or defective (no pending proposals). */
  declare reviewedOnly: boolean;

  // Declared, not initialised as class fields: under a consumer's useDefineForClassFields a field would shadow
  // Lit's reactive accessor (setting it would not re-render). Defaults are set here instead.
  constructor() {
    super();
    this.count = 0;
    this.disabled = false;
    this.reviewedOnly = false;
  }

  override render() {
    return html`
      <div class="row">
        ${FORMATS.map(([f, label, title]) => html`<button data-format=${f} title=${title} ?disabled=${this.disabled} @click=${() => emit(this, 'inp-export', { format: f, ...(this.reviewedOnly && f !== 'session' ? { reviewedOnly: true } : {}) })}>${label}</button>`)}
        <label class="file" title="Replace this session with an exported one">Import session…
          <input type="file" accept=".json,application/json" data-testid="session-file"
            @change=${(e: Event) => { const i = e.target as HTMLInputElement; const f = i.files?.[0]; if (f) emit(this, 'inp-import-session', { file: f }); i.value = ''; }}></label>
      </div>
      <label class="only"><input type="checkbox" data-testid="export-reviewed-only" .checked=${this.reviewedOnly}
        @change=${(e: Event) => { this.reviewedOnly = (e.target as HTMLInputElement).checked; }}> Reviewed images only</label>
      <small>${this.reviewedOnly
        ? 'Only the images marked normal or defective, with their decided regions.'
        : `${this.count} image${this.count === 1 ? '' : 's'} with masks at full resolution; unreviewed images export their pending proposals.`}</small>
    `;
  }
}

if (!customElements.get('inp-export-menu')) customElements.define('inp-export-menu', ExportMenu);

declare global {
  interface HTMLElementTagNameMap { 'inp-export-menu': ExportMenu }
}
