import { zipSync } from 'fflate';
import { LitElement, css, html } from 'lit';
import { sessionAnnotations } from './state/export.ts';
import { maskArea } from './state/mask-edit.ts';
import { downloadModel, forgetModel, keepLocalModel, pruneLocalModels } from './state/model-cache.ts';
import { adjustCalibration, allRejected, loopCalibration, pendingProposals, settleStatus, type RawResult } from './state/review.ts';
import {
  addRegion, DEFAULT_SETTINGS, markImage, newEntry, readSettings, removeRegion, replaceRegion, type ImageEntry, type ImageSource, type SessionSettings,
} from './state/session.ts';
import { buildSessionFile, parseSessionFile } from './state/session-file.ts';
import type { Action } from './state/shortcuts.ts';
import { openSessionStore, type SavedModel, type SessionStore } from './state/session-store.ts';
import type { EditTool, ExportFormat, InpEvents, ModelActionDetail } from './events.ts';
import type { CanvasRegion, ImageCanvas } from './image-canvas.ts';
import './export-menu.ts';
import './image-canvas.ts';
import './model-panel.ts';
import './review-queue.ts';
import type { QueueProposal } from './review-queue.ts';
import './shortcut-help.ts';
import './sensitivity-control.ts';
import { type BackendName, buildCocoDocument, buildCvatXml, buildLabelStudioTasks, buildMaskPngs, type DecodedImage, type EngineName, makeSample, type MapResult, ModelClient, type ModelInfo, progressLine, type ProgressLine, type ProposalRegion, rawThreshold, type Selection, type ThresholdCalibration, type TrainedModel, type TrainResult, type WebOnnxProvider, workingSize } from '../src/web.ts';

/** The kNN detector starts (cold start) once this many images are marked normal. */
export const COLD_START_NORMALS = 3;
const FIT_DEBOUNCE_MS = 400;
const DISPLAY_CACHE = 8;
/** performance.measure name of one image's proposals (decode + model + save), see predictQueue. */
const PREDICT_MEASURE = 'inp-predict';

export interface SampleImage { id: string; name: string; source: ImageSource }

interface Message { id: number; kind: 'error' | 'info'; text: string }

/**
 * <inp-workspace>: the annotator's workspace, composed of the elements in this folder. It owns the session (saved to
 * IndexedDB as each decision is made), talks to the model worker, and runs the loop: normals feed the kNN memory
 * bank, or train an INP-Former on demand and then wait to fine-tune it; accepted masks and normals calibrate the
 * threshold, all-rejected images become normals. The model in use is saved with the session (a head trained here
 * whole, a user's model by its URL in the model cache) and comes back on reload.
 * Properties: samples (the images of a new session), backends (tfjs backends, in the order to try), inputSize (model
 * input side), dbName (IndexedDB database; one session per name), engine (prediction engine, overriding the one
 * chosen in the model panel), providers (onnxruntime-web execution providers to try).
 *
 * @prop {SampleImage[]} samples - The built-in images a new session starts with.
 * @prop {BackendName[] | undefined} backends - tfjs backends to try, in order (default webgpu, webgl, wasm, cpu, skipping a software GPU).
 * @prop {number} inputSize - The model's input side (attribute input-size).
 * @prop {string} dbName - The IndexedDB session name (attribute db-name).
 * @prop {EngineName | undefined} engine - tfjs or onnx.
 * @prop {WebOnnxProvider[] | undefined} providers - onnxruntime-web providers to try.
 */
export class Workspace extends LitElement {
  static override properties = {
    samples: { attribute: false }, backends: { attribute: false }, inputSize: { type: Number, attribute: 'input-size' }, dbName: { type: String, attribute: 'db-name' },
    engine: { type: String }, providers: { attribute: false }, view: { state: true },
  };
  static override styles = css`
    :host { display: grid; grid-template-columns: minmax(250px, 300px) 1fr minmax(260px, 320px); grid-template-rows: auto 1fr; gap: .7rem; height: 100vh; box-sizing: border-box; padding: .7rem; font: 13px system-ui, sans-serif; color: #1d2330; }
    header { grid-column: 1 / -1; display: flex; gap: .8rem; align-items: center; flex-wrap: wrap; }
    header h1 { font-size: 1.05rem; margin: 0; }
    .status { color: #3a4254; flex: 1; }
    aside, main { min-height: 0; display: flex; flex-direction: column; gap: .7rem; }
    aside { overflow: auto; }
    main inp-image-canvas { flex: 1; }
    section { background: #f9fafc; border: 1px solid #dde1e8; border-radius: 6px; padding: .55rem .65rem; }
    section h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: #5a6478; margin: 0 0 .4rem; }
    .tools { display: flex; gap: .3rem; flex-wrap: wrap; align-items: center; }
    .tools button, header button, label.file { font: inherit; border: 1px solid #c4cbd8; background: #fff; border-radius: 4px; padding: .25rem .5rem; cursor: pointer; }
    .tools button[aria-pressed='true'] { background: #1d2330; color: #fff; }
    label.file input { display: none; }
    .messages { position: fixed; right: 1rem; bottom: 1rem; display: flex; flex-direction: column; gap: .4rem; z-index: 40; max-width: 480px; }
    .msg { padding: .5rem .7rem; border-radius: 5px; box-shadow: 0 2px 10px #0003; display: flex; gap: .6rem; align-items: start; }
    .msg.error { background: #fde2e1; color: #7d1414; border: 1px solid #e5a3a3; }
    .msg.info { background: #e3ecfd; color: #1c3a78; border: 1px solid #a9c0ee; }
    .msg button { border: 0; background: none; cursor: pointer; font-size: 1rem; }
    kbd { font: 11px ui-monospace, monospace; background: #eef0f4; border: 1px solid #c9ced8; border-radius: 3px; padding: 0 .25rem; }
  `;

  declare samples: SampleImage[];
  declare backends?: BackendName[];
  declare inputSize: number;
  declare dbName: string;
  declare engine?: EngineName;
  declare providers?: WebOnnxProvider[];
  /** Bumped on every change the view depends on (Lit re-renders). */
  declare view: number;

  // Declared, not initialised as class fields: under a consumer's useDefineForClassFields a field would shadow
  // Lit's reactive accessor (setting it would not re-render). Defaults are set here instead.
  constructor() {
    super();
    this.samples = [];
    this.inputSize = 224;
    this.dbName = 'inp-workspace';
    this.view = 0;
  }

  private store?: SessionStore;
  private client?: ModelClient;
  private order: string[] = [];
  private entries = new Map<string, ImageEntry>();
  private results = new Map<string, RawResult>();
  private settings: SessionSettings = { ...DEFAULT_SETTINGS };
  private calibration?: ThresholdCalibration;
  private display = new Map<string, DecodedImage>();
  private registered = new Set<string>();
  private history = new Map<string, { undo: ImageEntry[]; redo: ImageEntry[] }>();
  private backend?: string;
  private backendNote = '';
  private info?: ModelInfo;
  private progress?: ProgressLine;
  private job?: { cancel(): void };
  private messages: Message[] = [];
  private nextMessage = 1;
  private selected?: string;
  private tool: EditTool = 'select';
  private brushSize = 10;
  private heatmap = true;
  private opacity = 0.45;
  private help = false;
  private busy?: string;
  private fitTimer?: ReturnType<typeof setTimeout>;
  private fitted = '';
  /** Normals the INP-Former in use was last trained or fine-tuned on (none for a model just loaded). */
  private trainedOn = new Set<string>();
  /** The last training's result (its model folder too, so the user can still pick it) and its validation. */
  private lastTraining?: TrainResult;
  private validation?: { selection: Selection; inUse: boolean };
  private predicting = false;
  private ready = false;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.start();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this.fitTimer);
    this.client?.dispose();
    this.store?.close();
  }

  private refresh(): void { this.view++; }

  private say(kind: Message['kind'], text: string): void {
    const m = { id: this.nextMessage++, kind, text };
    this.messages = [...this.messages.slice(-3), m];
    if (kind === 'info') setTimeout(() => { this.messages = this.messages.filter((x) => x !== m); this.refresh(); }, 5000);
    this.refresh();
  }

  private fail(e: unknown, what: string): void {
    this.say('error', `${what}: ${(e as Error).message ?? String(e)}`);
  }

  // ---------------------------------------------------------------- start-up

  private async start(): Promise<void> {
    let trained: SavedModel | undefined;
    try {
      this.store?.close();
      this.store = await openSessionStore(this.dbName);
      const saved = await this.store.load();
      if (saved.order.length) {
        this.order = saved.order;
        this.entries = saved.entries;
        this.results = saved.results;
        this.settings = readSettings(saved.settings);
        trained = saved.model;
      } else {
        await this.replaceSession(this.samples.map((s) => s.id), new Map(this.samples.map((s) => [s.id, newEntry(s.id, s.name, s.source)])), { ...DEFAULT_SETTINGS }, new Map());
      }
    } catch (e) {
      this.fail(e, 'the saved session could not be opened (working without saving)');
      if (!this.order.length) {
        this.order = this.samples.map((s) => s.id);
        this.entries = new Map(this.samples.map((s) => [s.id, newEntry(s.id, s.name, s.source)]));
      }
    }
    this.settings.current ??= this.order[0];
    this.recalibrate();
    this.ready = true;
    this.refresh();
    this.client = ModelClient.start();
    void this.showCurrent();
    try {
      const engine = { engine: this.engine ?? this.settings.engine ?? 'tfjs', providers: this.providers };
      const r = await this.client.request({ type: 'init', ...(this.backends ? { backends: this.backends } : {}), inputSize: this.inputSize, engine }).result;
      this.backend = r.backend;
      this.backendNote = r.failures.length ? `skipped: ${r.failures.join('; ')}` : '';
      this.setInfo(r.info);
      this.refresh();
      // The model in use comes back (a trained head from the session, a URL's from the browser's cache); the kNN fit
      // is skipped while it is in use.
      if (trained) await this.restoreTrained(trained);
      else if (this.settings.modelUrl) await this.loadModelUrl(this.settings.modelUrl);
      this.scheduleFit(0);
    } catch (e) {
      this.backend = 'none';
      this.fail(e, 'the model could not start');
    }
  }

  private async replaceSession(order: string[], entries: Map<string, ImageEntry>, settings: SessionSettings, files: Map<string, Uint8Array>): Promise<void> {
    this.order = order;
    this.entries = entries;
    this.settings = settings;
    this.results = new Map();
    this.history.clear();
    this.display.clear();
    this.registered.clear();
    this.trainedOn.clear();
    this.fitted = '';
    if (!this.store) return;
    await this.store.clear();
    for (const [id, b] of files) await this.store.putFile(id, b);
    for (const e of entries.values()) await this.store.putEntry(e);
    await this.store.putOrder(order);
    await this.store.putSettings(settings);
  }

  // ---------------------------------------------------------------- images and the model

  private get currentId(): string | undefined { return this.settings.current; }
  private get current(): ImageEntry | undefined { return this.currentId ? this.entries.get(this.currentId) : undefined; }

  /** Decodes (in the worker) and registers an image; the working-size pixels are cached for display. */
  private async decoded(id: string): Promise<DecodedImage> {
    const have = this.display.get(id);
    if (have && this.registered.has(id)) return have;
    const e = this.entries.get(id)!;
    const bytes = e.source.kind === 'file' ? await this.store?.getFile(id) : undefined;
    if (e.source.kind === 'file' && !bytes) throw new Error(`${e.name}: its bytes are not in this browser's storage`);
    const d = await this.client!.request({ type: 'decode', id, name: e.name, source: e.source, bytes }).result;
    this.registered.add(id);
    this.display.set(id, d);
    // Keep the pixels of the last few images for display, never evicting the one on screen.
    if (this.display.size > DISPLAY_CACHE) this.display.delete([...this.display.keys()].find((k) => k !== this.currentId)!);
    // Re-read the entry: decisions may have been made on it while the worker decoded.
    const now = this.entries.get(id)!;
    if (!now.size) await this.commit({ ...now, size: { width: d.width, height: d.height, workWidth: d.workWidth, workHeight: d.workHeight } }, false);
    return d;
  }

  private async showCurrent(): Promise<void> {
    const id = this.currentId;
    if (!id || !this.client) return;
    const e = this.entries.get(id)!;
    if (!this.display.has(id) && e.source.kind === 'sample') {
      // Samples are cheap to generate here: the page shows one at once, before the worker has even loaded tfjs.
      const { image } = makeSample(e.source.surface, e.source.defect, e.source.seed, e.source.size);
      this.display.set(id, { width: image.width, height: image.height, ...workingSize(image.width, image.height), image });
      this.refresh();
    }
    try {
      await this.decoded(id);
      this.refresh();
      void this.predictQueue();
    } catch (e) {
      this.fail(e, this.entries.get(id)?.name ?? id);
    }
  }

  private normals(): string[] {
    return this.order.filter((id) => this.entries.get(id)?.status === 'normal');
  }

  /** Refits after normals change (debounced, so marking several in a row fits once). */
  private scheduleFit(delay = FIT_DEBOUNCE_MS): void {
    clearTimeout(this.fitTimer);
    this.fitTimer = setTimeout(() => void this.fit(false), delay);
  }

  private async fit(forced: boolean): Promise<void> {
    const normals = this.normals();
    if (!this.client || !this.backend || this.backend === 'none' || this.info?.kind === 'inp-former') return;
    if (!forced && (normals.length < COLD_START_NORMALS || normals.join() === this.fitted)) return;
    if (this.progress) { this.scheduleFit(); return; }
    try {
      for (const id of normals) if (!this.registered.has(id)) await this.decoded(id);
      const job = this.client.request({ type: 'fit', normals }, (p) => { this.progress = progressLine(p); this.refresh(); });
      this.job = job;
      this.progress = { label: 'fit', done: 0, total: normals.length * 3 };
      this.refresh();
      const r = await job.result;
      this.fitted = normals.join();
      this.setInfo(r.info);
      // Every non-normal map came from the old bank: drop them; normals get their held-out maps.
      for (const id of [...this.results.keys()]) if (!normals.includes(id)) this.results.delete(id);
      await this.store?.clearResults();
      for (const n of r.normals) await this.saveResult(n);
      this.recalibrate();
      this.say('info', `Model fitted on ${normals.length} normal images`);
    } catch (e) {
      if ((e as Error).message !== 'cancelled') this.fail(e, 'fitting the kNN detector failed');
      else this.say('info', 'Fit cancelled');
    } finally {
      this.progress = undefined;
      this.job = undefined;
      this.refresh();
    }
    void this.predictQueue();
  }

  private async saveResult(m: MapResult): Promise<void> {
    const r: RawResult = { map: m.map, score: m.score, model: this.info?.version ?? '' };
    this.results.set(m.id, r);
    await this.store?.putResult(m.id, r);
  }

  /** Predicts missing maps: the current image first, then the others from there on, one at a time. */
  private async predictQueue(): Promise<void> {
    if (this.predicting || !this.client || !this.info || this.info.kind === 'none' || this.progress) return;
    this.predicting = true;
    try {
      for (;;) {
        const start = Math.max(0, this.order.indexOf(this.currentId ?? ''));
        const rotated = [...this.order.slice(start), ...this.order.slice(0, start)];
        // A kNN's normals have held-out maps from the fit; an INP-Former's normals are predicted like any image.
        const id = rotated.find((i) => !this.results.has(i) && (this.info!.kind === 'inp-former' || this.entries.get(i)?.status !== 'normal'));
        if (!id || this.progress) break;
        if (id === this.currentId) { this.busy = 'Model is looking at this image…'; this.refresh(); }
        try {
          const t0 = performance.now();
          const normals = this.info.normals;
          await this.decoded(id);
          const m = await this.client.request({ type: 'predict', id }).result;
          // onnxruntime-web failed on this image and tfjs took over: the panel and a message say so.
          if (m.engine.failure !== this.info.engine.failure) this.setInfo({ ...this.info, engine: m.engine });
          await this.saveResult(m);
          // User Timing entries (devtools, bench/workspace.ts): the page's wait per image, the worker's model time and
          // how many normals the model had.
          performance.measure(PREDICT_MEASURE, { start: t0, detail: { id, modelMs: m.ms, normals } });
        } catch (e) {
          this.fail(e, this.entries.get(id)?.name ?? id);
          // Do not retry a failing image in a loop: give it an empty slot until the model changes.
          this.results.set(id, { map: { width: 1, height: 1, data: new Float32Array(1) }, score: 0, model: 'failed' });
        }
        if (id === this.currentId) this.busy = undefined;
        if (id === this.currentId || this.entries.get(id)?.status === 'normal') { this.recalibrate(); this.selectFirstPending(); this.refresh(); }
      }
    } finally {
      this.predicting = false;
      this.busy = undefined;
      this.refresh();
    }
  }

  private recalibrate(): void {
    try {
      const usable = new Map([...this.results].filter(([, r]) => r.model !== 'failed'));
      this.calibration = loopCalibration(this.order.map((id) => this.entries.get(id)!).filter(Boolean), usable);
    } catch (e) {
      this.fail(e, 'calibration');
    }
  }

  /** The current calibration moved by the slider, or none before the model has normals. */
  private cut(): ThresholdCalibration | undefined {
    return this.calibration && adjustCalibration(this.calibration, 1 - this.settings.sensitivity);
  }

  private pendingOf(e: ImageEntry): ProposalRegion[] {
    const r = this.results.get(e.id);
    const cal = this.cut();
    if (!r || r.model === 'failed' || !cal || !e.size || r.map.width !== e.size.workWidth) return [];
    return pendingProposals(e, r, cal).pending;
  }

  // ---------------------------------------------------------------- decisions

  /** Applies a change to an image: undo history, the loop's rules, IndexedDB, calibration, refit when normals change. */
  private async commit(next: ImageEntry, undoable = true): Promise<void> {
    const prev = this.entries.get(next.id);
    let e = next;
    if (undoable) {
      e = settleStatus(next);
      if (allRejected(e, this.pendingOf(e).length) && !(prev && allRejected(prev, this.pendingOf(prev).length))) {
        this.say('info', `${e.name}: every proposal rejected. Press G if it is a normal image (it then teaches the model), or draw what it missed`);
      }
      const h = this.history.get(e.id) ?? { undo: [], redo: [] };
      if (prev) h.undo.push(prev);
      h.redo = [];
      this.history.set(e.id, h);
    }
    this.entries.set(e.id, e);
    this.refresh();
    try {
      await this.store?.putEntry(e);
    } catch (err) {
      this.fail(err, 'saving failed');
    }
    if (prev && (prev.status === 'normal') !== (e.status === 'normal')) this.scheduleFit();
    if (prev?.status !== e.status || prev.regions !== e.regions) this.recalibrate();
    this.refresh();
  }

  private async decide(key: string | undefined, state: 'accepted' | 'rejected'): Promise<void> {
    const e = this.current;
    if (!e || !key) return;
    const pending = this.pendingOf(e);
    if (key.startsWith('p')) {
      const p = pending[Number(key.slice(1))];
      if (!p) return;
      await this.commit(addRegion(e, { state, origin: 'model', edited: false, mask: p.mask, score: p.score }));
    } else {
      await this.commit(replaceRegion(e, Number(key.slice(1)), { state }));
    }
    // A region the user selected while the decision was being saved stays selected.
    if (this.selected === key) this.selected = undefined;
    this.selectFirstPending();
  }

  private async editMask(key: string | null, mask: ImageEntry['regions'][number]['mask']): Promise<void> {
    const e = this.current;
    if (!e) return;
    const empty = maskArea(mask) === 0;
    if (key === null) {
      if (empty) return;
      const next = addRegion(e, { state: 'accepted', origin: 'drawn', edited: true, mask });
      await this.commit(next);
      this.selected = `r${next.nextRegionId - 1}`;
    } else if (key.startsWith('p')) {
      const p = this.pendingOf(e)[Number(key.slice(1))];
      if (!p || empty) return;
      const next = addRegion(e, { state: 'accepted', origin: 'model', edited: true, mask, score: p.score });
      await this.commit(next);
      this.selected = `r${next.nextRegionId - 1}`;
    } else {
      const id = Number(key.slice(1));
      await this.commit(empty ? removeRegion(e, id) : replaceRegion(e, id, { mask, edited: true, state: 'accepted' }));
    }
  }

  private async go(id: string | undefined): Promise<void> {
    if (!id || id === this.currentId) return;
    (this.renderRoot.querySelector('inp-image-canvas') as ImageCanvas | null)?.cancelPolygon();
    this.settings = { ...this.settings, current: id };
    this.selected = undefined;
    this.refresh();
    void this.store?.putSettings(this.settings).catch((e) => this.fail(e, 'saving failed'));
    await this.showCurrent();
    this.selectFirstPending();
    this.refresh();
  }

  /** Keeps a valid proposal selected, so A / R act on something after the masks change. */
  private selectFirstPending(): void {
    const keys = this.proposalList().map((p) => p.key);
    if (!this.selected || !keys.includes(this.selected)) this.selected = keys.find((k) => k.startsWith('p'));
  }

  private setSensitivity(v: number): void {
    this.settings = { ...this.settings, sensitivity: Math.min(1, Math.max(0, Math.round(v * 100) / 100)) };
    this.selectFirstPending();
    this.refresh();
    void this.store?.putSettings(this.settings).catch((e) => this.fail(e, 'saving failed'));
  }

  private undo(redo: boolean): void {
    const e = this.current;
    const h = e && this.history.get(e.id);
    const target = h && (redo ? h.redo.pop() : h.undo.pop());
    if (!e || !h || !target) return;
    (redo ? h.undo : h.redo).push(e);
    void this.commit(target, false).then(() => { if ((e.status === 'normal') !== (target.status === 'normal')) this.scheduleFit(); });
  }

  private readonly onAction = (ev: CustomEvent<InpEvents['inp-action']>) => {
    const { action, key, id } = ev.detail;
    void this.run(action, key, id).catch((e) => this.fail(e, action));
  };

  private async run(action: Action, key?: string, id?: string): Promise<void> {
    const keys = this.proposalList().map((p) => p.key);
    const at = this.selected ? keys.indexOf(this.selected) : -1;
    const i = this.order.indexOf(this.currentId ?? '');
    const e = this.current;
    if (this.help && action !== 'help' && action !== 'escape') return;
    switch (action) {
      case 'next-image': return this.go(this.order[Math.min(this.order.length - 1, i + 1)]);
      case 'prev-image': return this.go(this.order[Math.max(0, i - 1)]);
      case 'open-image': return this.go(id);
      case 'next-proposal': this.selected = keys[(at + 1) % keys.length]; break;
      case 'prev-proposal': this.selected = keys[(at - 1 + keys.length) % keys.length]; break;
      case 'accept': return this.decide(key ?? this.selected, 'accepted');
      case 'reject': return this.decide(key ?? this.selected, 'rejected');
      case 'accept-all': {
        if (!e) return;
        let next = e;
        for (const p of this.pendingOf(e)) next = addRegion(next, { state: 'accepted', origin: 'model', edited: false, mask: p.mask, score: p.score });
        if (next !== e) await this.commit(next);
        break;
      }
      case 'edit': {
        const k = key ?? this.selected;
        if (!k || !e) return;
        if (k.startsWith('p')) {
          const p = this.pendingOf(e)[Number(k.slice(1))];
          if (!p) return;
          const next = addRegion(e, { state: 'accepted', origin: 'model', edited: false, mask: p.mask, score: p.score });
          await this.commit(next);
          this.selected = `r${next.nextRegionId - 1}`;
        } else this.selected = k;
        this.tool = 'brush';
        break;
      }
      case 'delete-region':
        if (e && this.selected?.startsWith('r')) { await this.commit(removeRegion(e, Number(this.selected.slice(1)))); this.selected = undefined; }
        break;
      case 'mark-normal': if (e) await this.commit(markImage(e, e.status === 'normal' ? 'unreviewed' : 'normal')); break;
      case 'mark-defective': if (e) await this.commit(markImage(e, e.status === 'defective' ? 'unreviewed' : 'defective')); break;
      case 'tool-select': this.tool = 'select'; break;
      case 'tool-brush': this.tool = 'brush'; break;
      case 'tool-eraser': this.tool = 'eraser'; break;
      case 'tool-polygon-add': this.tool = 'polygon-add'; break;
      case 'tool-polygon-subtract': this.tool = 'polygon-subtract'; break;
      case 'brush-bigger': this.brushSize = Math.min(200, Math.round(this.brushSize * 1.25) + 1); break;
      case 'brush-smaller': this.brushSize = Math.max(1, Math.round(this.brushSize / 1.25)); break;
      case 'toggle-heatmap': this.heatmap = !this.heatmap; break;
      case 'opacity-up': this.opacity = Math.min(1, this.opacity + 0.1); break;
      case 'opacity-down': this.opacity = Math.max(0, this.opacity - 0.1); break;
      case 'sensitivity-up': this.setSensitivity(this.settings.sensitivity + 0.02); break;
      case 'sensitivity-down': this.setSensitivity(this.settings.sensitivity - 0.02); break;
      case 'undo': this.undo(false); break;
      case 'redo': this.undo(true); break;
      case 'zoom-fit': (this.renderRoot.querySelector('inp-image-canvas') as ImageCanvas | null)?.fit(); break;
      case 'help': this.help = !this.help; break;
      case 'escape': this.help = false; break;
    }
    this.refresh();
  }

  // ---------------------------------------------------------------- files, models, export

  private async openFiles(files: File[]): Promise<void> {
    let added = 0;
    for (const f of files) {
      const id = `file-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      const bytes = new Uint8Array(await f.arrayBuffer());
      const name = f.webkitRelativePath || f.name;
      try {
        // Decode first: a file that is not an image never enters the session.
        const d = await this.client!.request({ type: 'decode', id, name, source: { kind: 'file', type: f.type }, bytes }).result;
        const e: ImageEntry = { ...newEntry(id, name, { kind: 'file', type: f.type }), size: { width: d.width, height: d.height, workWidth: d.workWidth, workHeight: d.workHeight } };
        this.registered.add(id);
        this.display.set(id, d);
        await this.store?.putFile(id, bytes);
        this.entries.set(id, e);
        await this.store?.putEntry(e);
        this.order = [...this.order, id];
        await this.store?.putOrder(this.order);
        added++;
        if (d.width !== d.workWidth) this.say('info', `${name}: ${d.width}×${d.height}, shown and annotated at ${d.workWidth}×${d.workHeight}; exports are full size`);
      } catch (err) {
        this.fail(err, name);
      }
    }
    if (added) await this.go(this.order[this.order.length - added]);
    this.refresh();
  }

  /** Local files are kept in the model cache first, so a reload restores them like a URL model. */
  private loadModel(files: File[]): Promise<void> {
    return this.useModel(files.map((f) => f.name).join(', '), async () => {
      const payload = await Promise.all(files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
      const kept = await keepLocalModel(this.dbName, payload);
      if (kept.cacheNote) this.say('info', kept.cacheNote);
      return { files: payload, url: kept.url, urls: kept.urls };
    });
  }

  /** Downloads with progress (cancellable), or reads the browser's cache, then loads as a file would be. */
  private loadModelUrl(url: string): Promise<void> {
    return this.useModel(url, async () => {
      const ctrl = new AbortController();
      this.job = { cancel: () => ctrl.abort() };
      const m = await downloadModel(url, {
        signal: ctrl.signal,
        onProgress: (p) => { this.progress = progressLine(p); this.refresh(); },
      });
      if (m.cached) this.say('info', `${m.files.map((f) => f.name).join(', ')}: from this browser's model cache (not downloaded again)`);
      if (m.cacheNote) this.say('info', m.cacheNote);
      return { files: m.files, url, urls: m.urls };
    });
  }

  /**
   * Gets a model's files (and the cache URLs they are kept under), hands them to the worker and drops the old model's
   * maps; `url` is remembered (and a trained head forgotten) so a reload restores the model. On failure the current
   * model and the session stay, with a visible message, and the files leave the cache so a retry does not read them
   * back.
   */
  private async useModel(label: string, get: () => Promise<{ files: Array<{ name: string; bytes: Uint8Array }>; url?: string; urls: string[] }>): Promise<void> {
    if (!this.client) return;
    let urls: string[] = [];
    try {
      this.busy = `Loading ${label}…`;
      this.refresh();
      const m = await get();
      urls = m.urls;
      this.progress = undefined;
      const info = await this.client.request({ type: 'load-model', files: m.files }).result;
      this.setInfo(info);
      this.validation = undefined;
      this.trainedOn = new Set();
      this.results.clear();
      await this.store?.clearResults();
      this.recalibrate();
      void this.rememberModel(m.url);
      this.say('info', `Model loaded: ${info.name}`);
    } catch (e) {
      const cancelled = (e as Error).name === 'AbortError';
      if (cancelled) this.say('info', `Loading ${label} cancelled (the current model stays)`);
      else this.fail(e, 'the model could not be loaded (the current model stays)');
      await forgetModel(urls).catch((err) => this.fail(err, 'the model cache'));
    } finally {
      this.busy = undefined;
      this.progress = undefined;
      this.job = undefined;
      this.refresh();
    }
    void this.predictQueue();
  }

  /**
   * Remembers the model in use with the session: a head trained here (saved whole), else the URL of a user's model
   * (its files are in the model cache), else neither (the kNN, fitted again from the normals). One transaction, then
   * the session's local model files that are no longer in use leave the cache. If the save fails, the message says so
   * and a reload goes back to the model saved before.
   */
  private async rememberModel(url: string | undefined, trained?: SavedModel): Promise<void> {
    const before = this.settings.modelUrl;
    // In memory first: a settings write that starts meanwhile (next image, threshold) must not bring the old URL back.
    this.settings = { ...this.settings, modelUrl: url };
    try {
      await this.store?.putModel(this.settings, trained);
    } catch (e) {
      this.settings = { ...this.settings, modelUrl: before };
      void this.store?.putSettings(this.settings).catch((err) => this.fail(err, 'saving failed'));
      this.fail(e, `${trained ? 'the trained model' : 'the model in use'} could not be saved with the session (a reload goes back to the previous model)`);
      return;
    }
    await pruneLocalModels(this.dbName, url).catch((e) => this.fail(e, 'the model cache'));
  }

  /** A head trained here, back from the session: the same card and version, so the maps saved with it stay valid. */
  private async restoreTrained(m: SavedModel): Promise<void> {
    if (!this.client) return;
    try {
      // As a job: Train and Fit wait, and a fit scheduled meanwhile comes back once it is done.
      this.progress = { label: 'restore', done: 0, total: 1, detail: m.card.name };
      this.refresh();
      const info = await this.client.request({ type: 'load-model', files: m.files, card: m.card }).result;
      this.setInfo(info);
      this.trainedOn = new Set(m.trainedOn);
      for (const [id, r] of this.results) if (r.model !== info.version) this.results.delete(id);
      this.recalibrate();
    } catch (e) {
      this.fail(e, 'the model trained in this session could not be restored (the kNN detector takes over; Train makes a new one)');
    } finally {
      this.progress = undefined;
      this.refresh();
    }
    void this.predictQueue();
  }

  /** The model in use, and a message when onnxruntime-web has just failed on it (tfjs took over). */
  private setInfo(next: ModelInfo): void {
    const failure = next.engine.failure;
    if (failure && failure !== this.info?.engine.failure) this.say('error', failure);
    this.info = next;
  }

  /** Switches the prediction engine (the maps already made stay: both engines run the same model). */
  private async setEngine(engine: EngineName): Promise<void> {
    if (!this.client) return;
    this.settings = { ...this.settings, engine };
    void this.store?.putSettings(this.settings).catch((e) => this.fail(e, 'saving failed'));
    try {
      this.busy = `Starting ${engine === 'onnx' ? 'onnxruntime-web' : 'tfjs'}…`;
      this.refresh();
      this.setInfo(await this.client.request({ type: 'engine', choice: { engine, providers: this.providers } }).result);
    } catch (e) {
      this.fail(e, 'the engine could not be switched');
    } finally {
      this.busy = undefined;
      this.refresh();
    }
  }

  /** Back from an INP-Former to the kNN detector (after a confirmation: the INP-Former is forgotten). */
  private async dropModel(): Promise<void> {
    if (!this.client || !confirm(`Replace ${this.info?.name} by a kNN detector fitted on the ${this.normals().length} normals? The INP-Former is discarded.`)) return;
    try {
      this.setInfo(await this.client.request({ type: 'drop-model' }).result);
      this.validation = undefined;
      this.trainedOn = new Set();
      this.results.clear();
      await this.store?.clearResults();
      this.recalibrate();
      await this.rememberModel(undefined);
    } catch (e) {
      this.fail(e, 'the model could not be dropped');
      return;
    }
    await this.fit(true);
  }

  /** A trained model becomes the one in use: its maps replace the old ones and it is saved with the session. */
  private async adoptTrained(info: ModelInfo, model: TrainedModel, trainedOn: string[]): Promise<void> {
    this.setInfo(info);
    this.trainedOn = new Set(trainedOn);
    this.results.clear();
    await this.store?.clearResults();
    this.recalibrate();
    await this.rememberModel(undefined, { ...model, trainedOn });
  }

  /** The user's pick of a trained model that validated no better: loaded from its folder with its card. */
  private async useTrained(): Promise<void> {
    const t = this.lastTraining;
    if (!this.client || !t || this.progress) return;
    try {
      const info = await this.client.request({ type: 'load-model', files: t.model.files, card: t.model.card }).result;
      await this.adoptTrained(info, t.model, t.trainedOn);
      this.validation = { selection: t.selection, inUse: true };
      this.say('info', `${info.name} is in use (your choice; it scored lower on the held-out images)`);
    } catch (e) {
      this.fail(e, 'the trained model could not be put in use (the current model stays)');
    }
    this.refresh();
    void this.predictQueue();
  }

  private async modelAction(a: ModelActionDetail): Promise<void> {
    if (a.action === 'cancel') { this.job?.cancel(); return; }
    if (a.action === 'use-trained') { await this.useTrained(); return; }
    if (a.action === 'fit') { await (this.info?.kind === 'inp-former' ? this.dropModel() : this.fit(true)); return; }
    if (!this.client || this.progress) return;
    const [doing, done] = a.action === 'finetune' ? ['Fine-tuning', 'Fine-tuned'] : ['Training', 'Trained'];
    const normals = this.normals();
    const job = this.client.request({ type: 'train', job: a.action === 'finetune' ? 'finetune' : 'train', normals, steps: a.steps }, (p) => { this.progress = progressLine(p); this.refresh(); });
    this.job = job;
    this.progress = { label: a.action === 'finetune' ? 'fine-tune' : 'train', done: 0, total: a.steps };
    this.refresh();
    try {
      const r = await job.result;
      this.lastTraining = r;
      this.validation = { selection: r.selection, inUse: r.selection.keep === 'candidate' };
      if (r.selection.keep === 'current') {
        this.say('info', `${done} on ${r.trainedOn.length} normals (${a.steps} steps), but it scored no higher on the held-out images than the model in use, which stays (see the model panel)`);
        return;
      }
      await this.adoptTrained(r.info, r.model, r.trainedOn);
      this.say('info', `${done} on ${r.trainedOn.length} normals (${a.steps} steps), checked on ${r.selection.candidate.normals} held-out normals: ${r.info.name}`);
    } catch (e) {
      if ((e as Error).message === 'cancelled') this.say('info', `${doing} cancelled (the current model stays)`);
      else this.fail(e, `${doing} failed (the current model stays)`);
    } finally {
      this.progress = undefined;
      this.job = undefined;
      this.refresh();
    }
    void this.predictQueue();
  }

  private download(name: string, data: BlobPart, type: string): void {
    const url = URL.createObjectURL(new Blob([data], { type }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  private async exportAs(format: ExportFormat): Promise<void> {
    if (format === 'session') {
      const files = new Map<string, Uint8Array>();
      for (const id of this.order) {
        if (this.entries.get(id)?.source.kind !== 'file') continue;
        const b = await this.store?.getFile(id);
        if (b) files.set(id, b);
      }
      this.download('session.json', JSON.stringify(buildSessionFile(this.order, this.entries, this.settings, files)), 'application/json');
      return;
    }
    const images = sessionAnnotations(this.order, this.entries, (e) => this.pendingOf(e));
    const source = {
      model: this.info?.name ?? 'none',
      calibration: this.cut() ?? { method: 'manual' as const, pixelThreshold: 0, min: 0, max: 1 },
      maskSize: 'image',
    };
    if (format === 'coco') this.download('coco.json', JSON.stringify(buildCocoDocument(images, source)), 'application/json');
    else if (format === 'labelstudio') this.download('labelstudio.json', JSON.stringify(buildLabelStudioTasks(images, source)), 'application/json');
    else if (format === 'cvat') this.download('cvat.xml', buildCvatXml(images, source), 'application/xml');
    else this.download('masks.zip', zipSync(Object.fromEntries(buildMaskPngs(images))), 'application/zip');
  }

  private async importSession(file: File): Promise<void> {
    try {
      const s = parseSessionFile(await file.text(), file.name);
      this.client?.dispose();
      await this.replaceSession(s.order, s.entries, s.settings, s.files);
      // The previous session's model goes with it: its trained head with the store's contents, its local files here.
      void pruneLocalModels(this.dbName, this.settings.modelUrl).catch((e) => this.fail(e, 'the model cache'));
      this.info = undefined;
      this.calibration = undefined;
      this.say('info', `Session imported: ${s.order.length} images`);
      this.settings.current ??= this.order[0];
      // A fresh worker: the old one holds the previous session's images and bank.
      this.ready = false;
      this.refresh();
      await this.start();
    } catch (e) {
      this.fail(e, 'the session could not be imported (nothing was changed)');
    }
  }

  // ---------------------------------------------------------------- view

  private proposalList(): QueueProposal[] {
    const e = this.current;
    if (!e) return [];
    const decided: QueueProposal[] = e.regions.map((r) => ({ key: `r${r.id}`, label: `${r.origin === 'drawn' ? 'Drawn' : 'Region'} ${r.id}`, score: r.score, state: r.state, edited: r.edited }));
    const pending: QueueProposal[] = this.pendingOf(e).map((p, k) => ({ key: `p${k}`, label: `Proposal ${k + 1} · ${p.area} px`, score: p.score, state: 'pending' }));
    return [...pending, ...decided];
  }

  private statusLine(): string {
    const n = this.normals().length;
    if (!this.backend) return 'Starting the model…';
    if (this.info?.kind === 'none' || !this.info) return n < COLD_START_NORMALS ? `Mark ${COLD_START_NORMALS - n} more normal image${COLD_START_NORMALS - n === 1 ? '' : 's'} (G) to start the model` : 'Fitting…';
    const reviewed = this.order.filter((id) => this.entries.get(id)?.status !== 'unreviewed').length;
    return `${reviewed}/${this.order.length} reviewed · ${n} normals · calibration: ${this.calibration?.method ?? 'none yet'}`;
  }

  override render() {
    if (!this.ready) return html`<header><h1>Anomaly pre-annotation</h1><span class="status">Opening the session…</span></header>`;
    const e = this.current;
    const d = e && this.display.get(e.id);
    const r = e && this.results.get(e.id);
    const map = r && d && r.model !== 'failed' && r.map.width === d.workWidth ? r.map : undefined;
    const proposals = this.proposalList();
    const pending = e ? this.pendingOf(e) : [];
    const regions: CanvasRegion[] = [
      ...pending.map((p, k) => ({ key: `p${k}`, mask: p.mask, state: 'pending' as const })),
      ...(e?.regions ?? []).map((x) => ({ key: `r${x.id}`, mask: x.mask, state: x.state })),
    ];
    const cut = this.cut();
    // Heat from a quarter below the threshold (normalised 0.25) to the top of the range: normal texture stays clear.
    const range: [number, number] | undefined = cut && [rawThreshold(0.25, cut.pixelThreshold, cut), cut.max];
    const tools: Array<[EditTool, string, string]> = [['select', 'Select', 'V'], ['brush', 'Brush', 'B'], ['eraser', 'Eraser', '⇧E'], ['polygon-add', 'Polygon +', 'O'], ['polygon-subtract', 'Polygon −', '⇧O']];
    return html`
      <header>
        <h1>Anomaly pre-annotation</h1>
        <span class="status" data-testid="status">${this.statusLine()}</span>
        <label class="file">Open images…<input type="file" multiple accept="image/png,image/jpeg" data-testid="open-files" @change=${(ev: Event) => this.fileInput(ev)}></label>
        <label class="file">Open folder…<input type="file" webkitdirectory data-testid="open-folder" @change=${(ev: Event) => this.fileInput(ev)}></label>
        <button @click=${() => void this.run('help')} title="Keyboard shortcuts">? Shortcuts</button>
      </header>
      <aside>
        <inp-review-queue .images=${this.order.map((id) => this.entries.get(id)!).map((x) => ({
          id: x.id, name: x.name, status: x.status, accepted: x.regions.filter((g) => g.state === 'accepted').length, rejected: x.regions.filter((g) => g.state === 'rejected').length, pending: 0,
        }))} .current=${this.currentId} .proposals=${proposals} .selected=${this.selected} .busy=${this.busy}
          @inp-action=${this.onAction} @inp-region-select=${(ev: CustomEvent<InpEvents['inp-region-select']>) => { this.selected = ev.detail.key ?? undefined; this.refresh(); }}></inp-review-queue>
      </aside>
      <main>
        <div class="tools">
          ${tools.map(([t, label, k]) => html`<button aria-pressed=${this.tool === t} data-tool=${t} @click=${() => { this.tool = t; this.refresh(); }}>${label} <kbd>${k}</kbd></button>`)}
          <label>Size <input type="range" min="1" max="80" .value=${String(this.brushSize)} @input=${(ev: Event) => { this.brushSize = Number((ev.target as HTMLInputElement).value); this.refresh(); }}></label>
          <button @click=${() => this.undo(false)} title="Undo (Ctrl+Z)">↶</button>
          <button @click=${() => this.undo(true)} title="Redo (Ctrl+Shift+Z)">↷</button>
          <label><input type="checkbox" .checked=${this.heatmap} @change=${(ev: Event) => { this.heatmap = (ev.target as HTMLInputElement).checked; this.refresh(); }} data-testid="heatmap"> Heat map <kbd>H</kbd></label>
          <label>Opacity <input type="range" min="0" max="1" step="0.05" .value=${String(this.opacity)} @input=${(ev: Event) => { this.opacity = Number((ev.target as HTMLInputElement).value); this.refresh(); }}></label>
        </div>
        <inp-image-canvas .image=${d?.image} .map=${map} .range=${range} .heatmap=${this.heatmap} .opacity=${this.opacity} .regions=${regions} .selected=${this.selected}
          .tool=${this.tool} .brushSize=${this.brushSize} data-image=${e?.id ?? ''}
          @inp-region-select=${(ev: CustomEvent<InpEvents['inp-region-select']>) => { this.selected = ev.detail.key ?? undefined; this.refresh(); }}
          @inp-mask-edit=${(ev: CustomEvent<InpEvents['inp-mask-edit']>) => void this.editMask(ev.detail.key, ev.detail.mask).catch((err) => this.fail(err, 'edit'))}></inp-image-canvas>
        <section>
          <inp-sensitivity .value=${this.settings.sensitivity} .method=${this.calibration?.method ?? ''} .raw=${cut?.pixelThreshold} ?disabled=${!this.calibration}
            @inp-sensitivity-input=${(ev: CustomEvent<InpEvents['inp-sensitivity-input']>) => this.setSensitivity(ev.detail.value)}></inp-sensitivity>
        </section>
      </main>
      <aside>
        <section><h2>Model</h2>
          <inp-model-panel .backend=${this.backend} .backendNote=${this.backendNote} .info=${this.info} .validation=${this.validation} .progress=${this.progress} .normals=${this.normals().length}
            .untrained=${this.info?.kind === 'inp-former' ? this.normals().filter((id) => !this.trainedOn.has(id)).length : 0}
            @inp-model-action=${(ev: CustomEvent<InpEvents['inp-model-action']>) => void this.modelAction(ev.detail)}
            @inp-model-engine=${(ev: CustomEvent<InpEvents['inp-model-engine']>) => void this.setEngine(ev.detail.engine)}
            @inp-model-files=${(ev: CustomEvent<InpEvents['inp-model-files']>) => void this.loadModel(ev.detail.files)}
            @inp-model-url=${(ev: CustomEvent<InpEvents['inp-model-url']>) => void this.loadModelUrl(ev.detail.url)}></inp-model-panel>
        </section>
        <section><h2>Export</h2>
          <inp-export-menu .count=${this.order.filter((id) => this.entries.get(id)?.size).length}
            @inp-export=${(ev: CustomEvent<InpEvents['inp-export']>) => void this.exportAs(ev.detail.format).catch((err) => this.fail(err, 'export'))}
            @inp-import-session=${(ev: CustomEvent<InpEvents['inp-import-session']>) => void this.importSession(ev.detail.file)}></inp-export-menu>
        </section>
      </aside>
      <inp-shortcut-help ?open=${this.help} @inp-action=${this.onAction} @click=${() => { this.help = false; this.refresh(); }}></inp-shortcut-help>
      <div class="messages">
        ${this.messages.map((m) => html`<div class="msg ${m.kind}" role=${m.kind === 'error' ? 'alert' : 'status'}><span>${m.text}</span>
          <button aria-label="Dismiss" @click=${() => { this.messages = this.messages.filter((x) => x !== m); this.refresh(); }}>×</button></div>`)}
      </div>
    `;
  }

  private fileInput(ev: Event): void {
    const input = ev.target as HTMLInputElement;
    const files = [...(input.files ?? [])].filter((f) => !f.name.startsWith('.'));
    input.value = '';
    if (files.length) void this.openFiles(files);
  }
}

if (!customElements.get('inp-workspace')) customElements.define('inp-workspace', Workspace);

declare global {
  interface HTMLElementTagNameMap { 'inp-workspace': Workspace }
}
