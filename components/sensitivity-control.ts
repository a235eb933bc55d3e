import { LitElement, css, html } from 'lit';
import { emit } from './events.ts';

/**
 * <inp-sensitivity>: the one knob a person moves, a sensitivity in [0, 1] where 0.5 is the calibrated cut and
 * higher proposes more (it is 1 − the anomalib-normalised cut, so the same value means the same across models).
 * Properties: value, method (where the calibration came from), raw (the raw map threshold it stands for),
 * disabled. Emits inp-sensitivity-input while dragging; the host re-cuts the kept raw maps, so the model never re-runs.
 *
 * @prop {number} value - The sensitivity, 0–1 (0.5 = the calibrated cut; higher proposes more).
 * @prop {string} method - Where the calibration came from.
 * @prop {number | undefined} raw - The raw map threshold the value stands for.
 * @prop {boolean} disabled - No knob before the model is calibrated.
 * @fires inp-sensitivity-input - {value}: the user moved the knob.
 */
export class SensitivityControl extends LitElement {
  static override properties = { value: { type: Number }, method: { type: String }, raw: { type: Number }, disabled: { type: Boolean } };
  static override styles = css`
    :host { display: block; font: 13px system-ui, sans-serif; }
    label { display: flex; gap: .5rem; align-items: center; }
    input { flex: 1; }
    output { font-variant-numeric: tabular-nums; min-width: 3ch; font-weight: 600; }
    small { color: #5a6478; display: block; margin-top: .15rem; }
  `;
  // Declared, not initialised as class fields: under a consumer's useDefineForClassFields a field would shadow
  // Lit's reactive accessor, and setting it would not re-render. Defaults are set in the constructor.
  declare value: number;
  declare method: string;
  declare raw?: number;
  declare disabled: boolean;

  constructor() {
    super();
    this.value = 0.5;
    this.method = '';
    this.disabled = false;
  }

  override render() {
    return html`
      <label>Sensitivity
        <input type="range" min="0" max="1" step="0.01" .value=${String(this.value)} ?disabled=${this.disabled} aria-label="Sensitivity"
          @input=${(e: Event) => emit(this, 'inp-sensitivity-input', { value: Number((e.target as HTMLInputElement).value) })}>
        <output data-testid="sensitivity-value">${this.value.toFixed(2)}</output>
      </label>
      <small>${this.disabled ? 'calibrates once the model has normals' : `0.50 = calibrated${this.method ? ` (${this.method})` : ''}${this.raw !== undefined ? ` · raw threshold ${this.raw.toPrecision(4)}` : ''} · keys − / = (higher: more masks)`}</small>
    `;
  }
}

if (!customElements.get('inp-sensitivity')) customElements.define('inp-sensitivity', SensitivityControl);

declare global {
  interface HTMLElementTagNameMap { 'inp-sensitivity': SensitivityControl }
}
