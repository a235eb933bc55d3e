import { LitElement, css, html } from 'lit';
import { emit } from './events.ts';

/**
 * <inp-sensitivity>: the one knob a person moves, a sensitivity in [0, 1] where 0.5 is the calibrated cut and
 * higher proposes more (it is 1 − the anomalib-normalised cut, so the same value means the same across models).
 * Properties: value, method (where the calibration came from), raw (the raw map threshold it stands for),
 * disabled, imageOnly (the value is this image's own) with global (the session's value, shown beside it). Emits
 * inp-sensitivity-input while dragging and inp-sensitivity-scope from the "this image only" box; the host re-cuts the
 * kept raw maps, so the model never re-runs.
 *
 * @prop {number} value - The sensitivity, 0–1 (0.5 = the calibrated cut; higher proposes more).
 * @prop {string} method - Where the calibration came from.
 * @prop {number | undefined} raw - The raw map threshold the value stands for.
 * @prop {boolean} disabled - No knob before the model is calibrated.
 * @prop {boolean} imageOnly - The value overrides the session's for the image shown (attribute image-only).
 * @prop {number} global - The session's value, shown beside an image's own.
 * @fires inp-sensitivity-input - {value}: the user moved the knob.
 * @fires inp-sensitivity-scope - {imageOnly}: the user ticked or cleared "this image only".
 */
export class SensitivityControl extends LitElement {
  static override properties = {
    value: { type: Number }, method: { type: String }, raw: { type: Number }, disabled: { type: Boolean },
    imageOnly: { type: Boolean, attribute: 'image-only' }, global: { type: Number },
  };
  static override styles = css`
    :host { display: block; font: 13px system-ui, sans-serif; }
    .row { display: flex; gap: .5rem; align-items: center; }
    label { display: flex; gap: .5rem; align-items: center; }
    .knob { flex: 1; }
    input[type='range'] { flex: 1; }
    .scope { flex: none; gap: .25rem; font-size: 12px; color: #3a4254; }
    output { font-variant-numeric: tabular-nums; min-width: 3ch; font-weight: 600; }
    small { color: #5a6478; display: block; margin-top: .15rem; }
  `;
  // Declared, not initialised as class fields: under a consumer's useDefineForClassFields a field would shadow
  // Lit's reactive accessor, and setting it would not re-render. Defaults are set in the constructor.
  declare value: number;
  declare method: string;
  declare raw?: number;
  declare disabled: boolean;
  declare imageOnly: boolean;
  declare global: number;

  constructor() {
    super();
    this.value = 0.5;
    this.method = '';
    this.disabled = false;
    this.imageOnly = false;
    this.global = 0.5;
  }

  override render() {
    return html`
      <div class="row">
        <label class="knob">Sensitivity
          <input type="range" min="0" max="1" step="0.01" .value=${String(this.value)} ?disabled=${this.disabled} aria-label="Sensitivity"
            @input=${(e: Event) => emit(this, 'inp-sensitivity-input', { value: Number((e.target as HTMLInputElement).value) })}>
        </label>
        <output data-testid="sensitivity-value">${this.value.toFixed(2)}</output>
        <label class="scope" title="Use a sensitivity of its own for the image shown">
          <input type="checkbox" data-testid="sensitivity-image-only" .checked=${this.imageOnly} ?disabled=${this.disabled}
            @change=${(e: Event) => emit(this, 'inp-sensitivity-scope', { imageOnly: (e.target as HTMLInputElement).checked })}>
          this image only${this.imageOnly ? html` <span data-testid="sensitivity-global">(session ${this.global.toFixed(2)})</span>` : ''}
        </label>
      </div>
      <small>${this.disabled ? 'calibrates once the model has normals' : `0.50 = calibrated${this.method ? ` (${this.method})` : ''}${this.raw !== undefined ? ` · raw threshold ${this.raw.toPrecision(4)}` : ''} · keys − / = (higher: more masks)`}</small>
    `;
  }
}

if (!customElements.get('inp-sensitivity')) customElements.define('inp-sensitivity', SensitivityControl);

declare global {
  interface HTMLElementTagNameMap { 'inp-sensitivity': SensitivityControl }
}
