import { LitElement, css, html, type PropertyValues } from 'lit';
import type { AnomalyMap, RgbImage } from '../src/types.ts';

/** Perceptual-ish heat colours (black → red → yellow → white), alpha from `opacity`. */
function heat(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v));
  return [Math.min(255, t * 3 * 255), Math.min(255, Math.max(0, t * 3 - 1) * 255), Math.min(255, Math.max(0, t * 3 - 2) * 255)];
}

function extent(d: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of d) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return [lo, hi];
}

/**
 * <inp-anomaly-viewer>: an image with its anomaly map over it, on a 2-D canvas.
 * Properties: image (RgbImage), map (AnomalyMap at the image's size or any size: it is stretched),
 * range ([lo, hi] map values shown from transparent to full colour), opacity (0..1).
 */
export class AnomalyViewer extends LitElement {
  static override properties = {
    image: { attribute: false }, map: { attribute: false }, range: { attribute: false }, opacity: { type: Number },
  };
  static override styles = css`
    :host { display: inline-block; }
    canvas { max-width: 100%; image-rendering: auto; border-radius: 4px; box-shadow: 0 1px 4px #0003; }
  `;
  image?: RgbImage;
  map?: AnomalyMap;
  range?: [number, number];
  opacity = 0.6;

  override render() {
    return html`<canvas part="canvas"></canvas>`;
  }

  protected override updated(_: PropertyValues): void {
    const canvas = this.renderRoot.querySelector('canvas');
    if (!canvas || !this.image) return;
    const { width: w, height: h, data } = this.image;
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d')!;
    const px = ctx.createImageData(w, h);
    const m = this.map;
    const [lo, hi] = this.range ?? (m ? extent(m.data) : [0, 1]);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        let r = data[i * 3]; let g = data[i * 3 + 1]; let b = data[i * 3 + 2];
        if (m) {
          const v = m.data[Math.min(m.height - 1, Math.floor((y * m.height) / h)) * m.width + Math.min(m.width - 1, Math.floor((x * m.width) / w))];
          const t = (v - lo) / (hi - lo || 1);
          const a = this.opacity * Math.min(1, Math.max(0, t));
          const [hr, hg, hb] = heat(t);
          r = r * (1 - a) + hr * a; g = g * (1 - a) + hg * a; b = b * (1 - a) + hb * a;
        }
        px.data.set([r, g, b, 255], i * 4);
      }
    }
    ctx.putImageData(px, 0, 0);
  }
}

if (!customElements.get('inp-anomaly-viewer')) customElements.define('inp-anomaly-viewer', AnomalyViewer);

declare global {
  interface HTMLElementTagNameMap { 'inp-anomaly-viewer': AnomalyViewer }
}
