import { LitElement, css, html } from 'lit';
import { emit } from './events.ts';

/**
 * <inp-threshold>: the one knob, a normalised threshold in [0, 1] where 0.5 is the calibrated one (anomalib's
 * normalisation, so the same value means the same across models). Properties: value, method (where the calibration
 * came from), raw (the raw map threshold it stands for), disabled. Emits inp-threshold-input while dragging; the
 * host re-cuts the kept raw maps, so the model never re-runs.
 */
export class ThresholdControl extends LitElement {
  static override properties = { value: { type: Number }, method: { type: String }, raw: { type: Number }, disabled: { type: Boolean } };
  static override styles = css`
    :host { display: block; font: 13px system-ui, sans-serif; }
    label { display: flex; gap: .5rem; align-items: center; }
    input { flex: 1; }
    output { font-variant-numeric: tabular-nums; min-width: 3ch; font-weight: 600; }
    small { color: #5a6478; display: block; margin-top: .15rem; }
  `;
  value = 0.5;
  method = '';
  raw?: number;
  disabled = false;

  override render() {
    return html`
      <label>Threshold
        <input type="range" min="0" max="1" step="0.01" .value=${String(this.value)} ?disabled=${this.disabled} aria-label="Threshold"
          @input=${(e: Event) => emit(this, 'inp-threshold-input', { value: Number((e.target as HTMLInputElement).value) })}>
        <output data-testid="threshold-value">${this.value.toFixed(2)}</output>
      </label>
      <small>${this.disabled ? 'calibrates once the model has normals' : `0.50 = calibrated (${this.method})${this.raw !== undefined ? ` · raw ${this.raw.toPrecision(4)}` : ''} · keys − / =`}</small>
    `;
  }
}

if (!customElements.get('inp-threshold')) customElements.define('inp-threshold', ThresholdControl);

declare global {
  interface HTMLElementTagNameMap { 'inp-threshold': ThresholdControl }
}
