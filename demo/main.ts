/**
 * The page `npm start` opens: load an INP-Former (checkpoint or converted model folder) and an image, run it in
 * the browser on the best backend available (webgpu → webgl → wasm), and show the anomaly map.
 */
import { LitElement, css, html } from 'lit';
import '../components/anomaly-viewer.ts';
import { loadCheckpoint } from '../src/checkpoint/load.ts';
import { decodeImage } from '../src/image/decode.ts';
import { createInpFormer, type InpFormer } from '../src/inp-former/predict.ts';
import { MANIFEST_FILE, openModelFolder, parseManifest } from '../src/model-folder/manifest.ts';
import { configureWebWasm } from '../src/platform/web-wasm.ts';
import { OFFICIAL_PREPROCESS, preprocess, stackBatch } from '../src/preprocess/preprocess.ts';
import { defaultBackendOrder, useFirstBackend, type BackendName } from '../src/runtime/backend.ts';
import type { AnomalyMap, PreprocessConfig, RgbImage } from '../src/types.ts';

class InpDemo extends LitElement {
  static override properties = { status: { state: true }, backend: { state: true }, image: { state: true }, map: { state: true }, score: { state: true }, error: { state: true } };
  static override styles = css`
    :host { display: block; max-width: 960px; margin: 2rem auto; padding: 0 1rem; }
    h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
    .row { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; margin: .75rem 0; }
    .pill { background: #dde3ee; border-radius: 999px; padding: .15rem .6rem; font-size: .85rem; }
    .error { color: #a4161a; background: #fde2e1; padding: .5rem .75rem; border-radius: 4px; }
    label { font-weight: 600; }
  `;
  status = 'starting…';
  backend?: BackendName;
  image?: RgbImage;
  map?: AnomalyMap;
  score?: number;
  error?: string;
  private model?: InpFormer;
  private pre: PreprocessConfig = { ...OFFICIAL_PREPROCESS, protocol: 'annotate' };

  override async connectedCallback() {
    super.connectedCallback();
    try {
      await configureWebWasm();
      // ?backends=wasm,cpu forces an order (tests use it to exercise each fallback).
      const forced = new URLSearchParams(location.search).get('backends')?.split(',') as BackendName[] | undefined;
      const { backend, failures } = await useFirstBackend(forced ?? defaultBackendOrder());
      this.backend = backend;
      this.status = failures.length ? `using ${backend} (${failures.join('; ')})` : `using ${backend}`;
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private async onModel(ev: Event) {
    const files = [...((ev.target as HTMLInputElement).files ?? [])];
    this.error = undefined;
    try {
      this.status = 'loading model…';
      const bytes = new Map(await Promise.all(files.map(async (f) => [f.name, new Uint8Array(await f.arrayBuffer())] as const)));
      const manifestBytes = bytes.get(MANIFEST_FILE);
      let loaded;
      if (manifestBytes) {
        const manifest = parseManifest(JSON.parse(new TextDecoder().decode(manifestBytes)), MANIFEST_FILE);
        loaded = await openModelFolder(manifest, bytes, 'model folder');
        this.pre = { ...manifest.preprocess, protocol: 'annotate' };
      } else {
        const [name, b] = [...bytes][0];
        loaded = loadCheckpoint(b, name);
      }
      if (loaded.kind !== 'inp-former') throw new Error('this checkpoint is an encoder only: it needs a trained INP-Former head');
      this.model?.dispose();
      this.model = createInpFormer(loaded.config, loaded.tensors);
      this.status = `model ready on ${this.backend}`;
      await this.run();
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private async onImage(ev: Event) {
    const f = (ev.target as HTMLInputElement).files?.[0];
    if (!f) return;
    this.error = undefined;
    try {
      this.image = decodeImage(new Uint8Array(await f.arrayBuffer()), f.name);
      this.map = undefined;
      await this.run();
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private async run() {
    if (!this.model || !this.image) return;
    const t0 = performance.now();
    const p = preprocess(this.image, this.pre, this.model.config.encoder.patchSize, 'image');
    const r = await this.model.predict(stackBatch([p]), { mapSize: this.pre.mapSize, outputSize: [this.image.height, this.image.width] });
    this.map = { width: r.width, height: r.height, data: r.maps[0] };
    this.score = r.scores[0];
    this.status = `predicted in ${(performance.now() - t0).toFixed(0)} ms on ${this.backend}`;
  }

  override render() {
    return html`
      <h1>INP-Former pre-annotation</h1>
      <div class="row"><span class="pill" data-testid="backend">backend: ${this.backend ?? '…'}</span><span>${this.status}</span></div>
      <div class="row">
        <label>Model <input type="file" multiple accept=".pth,.safetensors,.json" @change=${this.onModel}></label>
        <label>Image <input type="file" accept="image/png,image/jpeg" @change=${this.onImage}></label>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      ${this.score !== undefined ? html`<p>Image score: <b>${this.score.toFixed(4)}</b></p>` : ''}
      ${this.image ? html`<inp-anomaly-viewer .image=${this.image} .map=${this.map}></inp-anomaly-viewer>` : ''}
    `;
  }
}
customElements.define('inp-demo', InpDemo);
