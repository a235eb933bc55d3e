import { zipSync } from 'fflate';
import { LitElement, css, html } from 'lit';
import { sessionAnnotations } from './state/export.ts';
import { COLD_START_NORMALS, ModelController } from './state/model-controller.ts';
import { SessionState } from './state/session-state.ts';
import { maskArea } from './state/mask-edit.ts';
import { pruneLocalModels } from './state/model-cache.ts';
import { adjustCalibration, allRejected, loopCalibration, pendingProposals, settleStatus } from './state/review.ts';
import {
  addRegion, DEFAULT_SETTINGS, markImage, removeRegion, replaceRegion, touch, type ImageEntry, type ImageSource, type SessionSettings,
} from './state/session.ts';
import { buildSessionFile, parseSessionFile } from './state/session-file.ts';
import type { Action } from './state/shortcuts.ts';
import type { EditTool, ExportFormat, InpEvents } from './events.ts';
import type { CanvasRegion, ImageCanvas } from './image-canvas.ts';
import './export-menu.ts';
import './image-canvas.ts';
import './model-panel.ts';
import './review-queue.ts';
import type { ImageAnalysis, QueueProposal, ReviewQueue } from './review-queue.ts';
import './shortcut-help.ts';
import './sensitivity-control.ts';
import {
  type BackendName, buildCocoDocument, buildCvatXml, buildLabelStudioTasks, buildMaskPngs, type EngineName, imageDimensions, jpegOrientation, type ProposalRegion,
  rawThreshold, type ThresholdCalibration, type WebOnnxProvider, workingSize,
} from '../src/web.ts';

export { COLD_START_NORMALS };

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
    /* Bottom left, over the end of the image list: clear of the canvas, its tools, the sensitivity knob and the model panel. */
    .messages { position: fixed; left: .75rem; bottom: .75rem; display: flex; flex-direction: column; gap: .4rem; z-index: 40; max-width: 300px; }
    .msg { padding: .5rem .7rem; border-radius: 5px; box-shadow: 0 2px 10px #0003; display: flex; gap: .6rem; align-items: start; }
    .msg.error { background: #fde2e1; color: #7d1414; border: 1px solid #e5a3a3; }
    .msg.info { background: #e3ecfd; color: #1c3a78; border: 1px solid #a9c0ee; }
    .msg button { border: 0; background: none; cursor: pointer; font-size: 1rem; }
    kbd { font: 11px ui-monospace, monospace; background: #eef0f4; border: 1px solid #c9ced8; border-radius: 3px; padding: 0 .25rem; color: #3a4254; }
    /* The active tool's key stays readable on its dark button. */
    .tools button[aria-pressed='true'] kbd { background: #3a4254; border-color: #6b7385; color: #fff; }
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

  private calibration?: ThresholdCalibration;
  private messages: Message[] = [];
  private nextMessage = 1;
  private selected?: string;
  private tool: EditTool = 'select';
  private brushSize = 10;
  private heatmap = true;
  private opacity = 0.45;
  private fill = true;
  private help = false;
  private ready = false;
  private readonly session = new SessionState();
  /** The detector side (worker, model, jobs); this element keeps the review and the view. */
  private readonly model = new ModelController({
    options: this,
    session: this.session,
    currentId: () => this.currentId,
    normals: () => this.normals(),
    recalibrate: () => this.recalibrate(),
    selectFirstPending: () => this.selectFirstPending(),
    refresh: () => this.refresh(),
    say: (kind, text) => this.say(kind, text),
    fail: (e, what) => this.fail(e, what),
    commit: (next, undoable) => this.commit(next, undoable),
    go: (id) => this.go(id),
    replaceSession: (order, entries, settings, files) => this.replaceSession(order, entries, settings, files),
    dropUntouchedSamples: () => this.dropUntouchedSamples(),
    setReady: () => { this.ready = true; },
  });

  override connectedCallback(): void {
    super.connectedCallback();
    void this.model.start();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.model.dispose();
    this.session.store?.close();
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

  private async replaceSession(order: string[], entries: Map<string, ImageEntry>, settings: SessionSettings, files: Map<string, Uint8Array>): Promise<void> {
    this.session.order = order;
    this.session.entries = entries;
    this.session.settings = settings;
    this.session.results = new Map();
    this.session.history.clear();
    this.model.forgetSession();
    if (!this.session.store) return;
    await this.session.store.clear();
    for (const [id, b] of files) await this.session.store.putFile(id, b);
    for (const e of entries.values()) await this.session.store.putEntry(e);
    await this.session.store.putOrder(order);
    await this.session.store.putSettings(settings);
  }

  // ---------------------------------------------------------------- images and the model

  private get currentId(): string | undefined { return this.session.settings.current; }
  private get current(): ImageEntry | undefined { return this.currentId ? this.session.entries.get(this.currentId) : undefined; }

  private normals(): string[] {
    return this.session.order.filter((id) => this.session.entries.get(id)?.status === 'normal');
  }

  private recalibrate(): void {
    try {
      const usable = new Map([...this.session.results].filter(([, r]) => r.model !== 'failed'));
      this.calibration = loopCalibration(this.session.order.map((id) => this.session.entries.get(id)!).filter(Boolean), usable);
    } catch (e) {
      this.fail(e, 'calibration');
    }
  }

  /** An image's sensitivity: its own when the annotator gave it one, else the session's. */
  private sensitivityOf(e: ImageEntry | undefined): number {
    return e?.sensitivity ?? this.session.settings.sensitivity;
  }

  /** The calibration moved by an image's sensitivity (the image shown by default), or none before the model has normals. */
  private cut(e: ImageEntry | undefined = this.current): ThresholdCalibration | undefined {
    return this.cutAt(this.sensitivityOf(e));
  }

  private cutAt(sensitivity: number): ThresholdCalibration | undefined {
    return this.calibration && adjustCalibration(this.calibration, 1 - sensitivity);
  }

  private get queue(): ReviewQueue | null { return this.renderRoot.querySelector('inp-review-queue'); }

  /** Where the model is with an image, for the list and the proposals panel. */
  private analysisOf(id: string): { analysis: ImageAnalysis; error?: string } {
    const r = this.session.results.get(id);
    if (r?.model === 'failed') return { analysis: 'failed', ...(r.error ? { error: r.error } : {}) };
    if (r) return { analysis: 'ready' };
    if (this.model.analysing === id) return { analysis: 'analysing' };
    return { analysis: !this.model.info || this.model.info.kind === 'none' ? 'no-model' : 'queued' };
  }

  private pendingOf(e: ImageEntry): ProposalRegion[] {
    const r = this.session.results.get(e.id);
    const cal = this.cut(e);
    if (!r || r.model === 'failed' || !cal || !e.size || r.map.width !== e.size.workWidth) return [];
    return pendingProposals(e, r, cal).pending;
  }

  // ---------------------------------------------------------------- decisions

  /** Applies a change to an image: undo history, the loop's rules, IndexedDB, calibration, refit when normals change. */
  private async commit(next: ImageEntry, undoable = true): Promise<void> {
    const prev = this.session.entries.get(next.id);
    let e = next;
    if (undoable) {
      e = settleStatus(next);
      if (allRejected(e, this.pendingOf(e).length) && !(prev && allRejected(prev, this.pendingOf(prev).length))) {
        this.say('info', `${e.name}: every proposal rejected. Press G if it is a normal image (it then teaches the model), or draw what it missed`);
      }
      const h = this.session.history.get(e.id) ?? { undo: [], redo: [] };
      if (prev) h.undo.push(prev);
      h.redo = [];
      this.session.history.set(e.id, h);
    }
    this.session.entries.set(e.id, e);
    this.refresh();
    try {
      await this.session.store?.putEntry(e);
    } catch (err) {
      this.fail(err, 'saving failed');
    }
    if (prev && (prev.status === 'normal') !== (e.status === 'normal')) this.model.scheduleFit();
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
    this.session.settings = { ...this.session.settings, current: id };
    this.selected = undefined;
    this.refresh();
    void this.session.store?.putSettings(this.session.settings).catch((e) => this.fail(e, 'saving failed'));
    await this.model.showCurrent();
    this.selectFirstPending();
    this.refresh();
  }

  /** Keeps a valid proposal selected, so A / R act on something after the masks change. */
  private selectFirstPending(): void {
    const keys = this.proposalList().map((p) => p.key);
    if (!this.selected || !keys.includes(this.selected)) this.selected = keys.find((k) => k.startsWith('p'));
  }

  /** Moves the knob: the image's own sensitivity when it has one, else the session's. */
  private setSensitivity(v: number): void {
    const value = Math.min(1, Math.max(0, Math.round(v * 100) / 100));
    const e = this.current;
    if (e?.sensitivity !== undefined) {
      void this.commit(touch(e, { sensitivity: value }), false).then(() => { this.selectFirstPending(); this.refresh(); });
      return;
    }
    this.session.settings = { ...this.session.settings, sensitivity: value };
    this.selectFirstPending();
    this.refresh();
    void this.session.store?.putSettings(this.session.settings).catch((err) => this.fail(err, 'saving failed'));
  }

  /** "This image only": the image gets its own sensitivity (starting at the session's), or goes back to the session's. */
  private setSensitivityScope(imageOnly: boolean): void {
    const e = this.current;
    if (!e) return;
    const { sensitivity: _, ...shared } = e;
    const next = imageOnly ? touch(e, { sensitivity: this.session.settings.sensitivity }) : touch(shared, {});
    void this.commit(next, false).then(() => { this.selectFirstPending(); this.refresh(); });
  }

  private undo(redo: boolean): void {
    const e = this.current;
    const h = e && this.session.history.get(e.id);
    const target = h && (redo ? h.redo.pop() : h.undo.pop());
    if (!e || !h || !target) return;
    (redo ? h.undo : h.redo).push(e);
    void this.commit(target, false).then(() => { if ((e.status === 'normal') !== (target.status === 'normal')) this.model.scheduleFit(); });
  }

  private readonly onAction = (ev: CustomEvent<InpEvents['inp-action']>) => {
    const { action, key, id } = ev.detail;
    void this.run(action, key, id).catch((e) => this.fail(e, action));
  };

  private async run(action: Action, key?: string, id?: string): Promise<void> {
    const keys = this.proposalList().map((p) => p.key);
    const at = this.selected ? keys.indexOf(this.selected) : -1;
    const i = this.session.order.indexOf(this.currentId ?? '');
    const e = this.current;
    if (this.help && action !== 'help' && action !== 'escape') return;
    switch (action) {
      // Next / Previous walk the list as shown (sorted, filtered); without the list element, the session order.
      case 'next-image': return this.go(this.queue ? this.queue.adjacent(this.currentId, 1) : this.session.order[Math.min(this.session.order.length - 1, i + 1)]);
      case 'prev-image': return this.go(this.queue ? this.queue.adjacent(this.currentId, -1) : this.session.order[Math.max(0, i - 1)]);
      case 'next-unreviewed': {
        const next = this.queue?.adjacent(this.currentId, 1, true) ?? this.queue?.adjacent(undefined, 1, true);
        if (next) return this.go(next);
        this.say('info', 'Every image shown is reviewed');
        break;
      }
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
      case 'remove-image': if (e) await this.removeImages([e.id]); break;
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
      case 'toggle-fill': this.fill = !this.fill; break;
      case 'opacity-up': this.opacity = Math.min(1, this.opacity + 0.1); break;
      case 'opacity-down': this.opacity = Math.max(0, this.opacity - 0.1); break;
      case 'sensitivity-up': this.setSensitivity(this.sensitivityOf(e) + 0.02); break;
      case 'sensitivity-down': this.setSensitivity(this.sensitivityOf(e) - 0.02); break;
      case 'undo': this.undo(false); break;
      case 'redo': this.undo(true); break;
      case 'zoom-fit': (this.renderRoot.querySelector('inp-image-canvas') as ImageCanvas | null)?.fit(); break;
      case 'help': this.help = !this.help; break;
      // Esc closes the help; otherwise it deselects, so the next stroke or polygon draws a new region.
      case 'escape': if (this.help) this.help = false; else this.selected = undefined; break;
    }
    this.refresh();
  }

  // ---------------------------------------------------------------- files, models, export

  private download(name: string, data: BlobPart, type: string): void {
    const url = URL.createObjectURL(new Blob([data], { type }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  private async exportAs(format: ExportFormat, reviewedOnly = false): Promise<void> {
    if (format === 'session') {
      const files = new Map<string, Uint8Array>();
      for (const id of this.session.order) {
        if (this.session.entries.get(id)?.source.kind !== 'file') continue;
        const b = await this.session.store?.getFile(id);
        if (b) files.set(id, b);
      }
      this.download('session.json', JSON.stringify(buildSessionFile(this.session.order, this.session.entries, this.session.settings, files)), 'application/json');
      return;
    }
    await this.sizeEveryImage();
    const images = sessionAnnotations(this.session.order, this.session.entries, (e) => this.pendingOf(e), { reviewedOnly });
    const source = {
      model: this.model.info?.name ?? 'none',
      // The session's cut (images with their own sensitivity were cut at theirs, in pendingOf).
      calibration: this.cutAt(this.session.settings.sensitivity) ?? { method: 'manual' as const, pixelThreshold: 0, min: 0, max: 1 },
      maskSize: 'image',
    };
    if (format === 'coco') this.download('coco.json', JSON.stringify(buildCocoDocument(images, source)), 'application/json');
    else if (format === 'labelstudio') this.download('labelstudio.json', JSON.stringify(buildLabelStudioTasks(images, source)), 'application/json');
    else if (format === 'cvat') this.download('cvat.xml', buildCvatXml(images, source), 'application/xml');
    else this.download('masks.zip', zipSync(Object.fromEntries(buildMaskPngs(images))), 'application/zip');
  }

  /**
   * Every image's size, so an export lists all of them (an image never shown had none and was left out): a sample's
   * from its source, a file's from its header (EXIF rotation applied), without decoding.
   */
  private async sizeEveryImage(): Promise<void> {
    for (const id of this.session.order) {
      const e = this.session.entries.get(id);
      if (!e || e.size) continue;
      let dims: { width: number; height: number } | undefined;
      if (e.source.kind === 'sample') dims = { width: e.source.size, height: e.source.size };
      else {
        const bytes = await this.session.store?.getFile(id);
        const header = bytes && imageDimensions(bytes);
        // EXIF orientations 5–8 turn the image a quarter: its shown size swaps width and height.
        dims = header && (jpegOrientation(bytes!) >= 5 ? { width: header.height, height: header.width } : header);
      }
      if (!dims) { this.say('error', `${e.name}: its size could not be read, so it is left out of the export`); continue; }
      await this.commit({ ...e, size: { ...dims, ...workingSize(dims.width, dims.height) } }, false);
    }
  }

  private async importSession(file: File): Promise<void> {
    try {
      const s = parseSessionFile(await file.text(), file.name);
      await this.switchSession(s.order, s.entries, s.settings, s.files, `Session imported: ${s.order.length} images`);
    } catch (e) {
      this.fail(e, 'the session could not be imported (nothing was changed)');
    }
  }

  /** Starts an empty session after the user confirms; what was decided leaves this browser (exports keep it). */
  private async newSession(): Promise<void> {
    const n = this.session.order.length;
    if (n && !confirm(`Start a new, empty session? The ${n} image(s) of this session and every decision on them leave this browser. Export first (Session JSON) to keep them.`)) return;
    try {
      await this.switchSession([], new Map(), { ...DEFAULT_SETTINGS }, new Map(), 'New session: open images or a folder to start');
    } catch (e) {
      this.fail(e, 'a new session could not be started');
    }
  }

  /** Replaces the whole session, with a fresh worker (the old one holds the previous session's images and bank). */
  private async switchSession(order: string[], entries: Map<string, ImageEntry>, settings: SessionSettings, files: Map<string, Uint8Array>, message: string): Promise<void> {
    this.model.client?.dispose();
    await this.replaceSession(order, entries, settings, files);
    // The previous session's model goes with it: its trained head with the store's contents, its local files here.
    void pruneLocalModels(this.dbName, this.session.settings.modelUrl).catch((e) => this.fail(e, 'the model cache'));
    this.model.info = undefined;
    this.calibration = undefined;
    this.say('info', message);
    this.session.settings.current ??= this.session.order[0];
    this.ready = false;
    this.refresh();
    await this.model.start();
  }

  /**
   * Removes images from the session and the browser's store, after a confirmation when the annotator has decided
   * anything on them. A removed normal refits the kNN (it was in the memory bank).
   */
  private async removeImages(ids: string[], ask = true): Promise<void> {
    const decided = ids.filter((id) => { const e = this.session.entries.get(id); return e && (e.status !== 'unreviewed' || e.regions.length > 0); });
    if (ask && decided.length && !confirm(`Remove ${ids.length === 1 ? this.session.entries.get(ids[0])?.name : `${ids.length} images`} and the decisions made on ${ids.length === 1 ? 'it' : 'them'} from this session?`)) return;
    const gone = new Set(ids);
    const wasNormal = ids.some((id) => this.session.entries.get(id)?.status === 'normal');
    const at = this.session.order.indexOf(this.currentId ?? '');
    this.session.order = this.session.order.filter((id) => !gone.has(id));
    for (const id of ids) {
      this.session.entries.delete(id);
      this.session.results.delete(id);
      this.session.history.delete(id);
      this.model.forgetImage(id);
    }
    await this.session.store?.removeImages(ids, this.session.order);
    if (this.currentId && gone.has(this.currentId)) {
      this.session.settings = { ...this.session.settings, current: undefined };
      await this.session.store?.putSettings(this.session.settings);
      await this.go(this.session.order[Math.min(Math.max(at, 0), this.session.order.length - 1)]);
    }
    if (wasNormal) this.model.scheduleFit();
    this.recalibrate();
    this.refresh();
  }

  /** The built-in samples, while untouched, make way for the user's own images instead of mixing with them. */
  private async dropUntouchedSamples(): Promise<void> {
    const all = this.session.order.map((id) => this.session.entries.get(id)!);
    if (!all.length || !all.every((e) => e.source.kind === 'sample' && e.status === 'unreviewed' && e.regions.length === 0)) return;
    await this.removeImages(all.map((e) => e.id), false);
    this.say('info', `The ${all.length} sample images made way for yours`);
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
    if (!this.model.backend) return 'Starting the model…';
    if (this.model.info?.kind === 'none' || !this.model.info) return n < COLD_START_NORMALS ? `Mark ${COLD_START_NORMALS - n} more normal image${COLD_START_NORMALS - n === 1 ? '' : 's'} (G) to start the model` : 'Fitting…';
    const reviewed = this.session.order.filter((id) => this.session.entries.get(id)?.status !== 'unreviewed').length;
    return `${reviewed}/${this.session.order.length} reviewed · ${n} normals · calibration: ${this.calibration?.method ?? 'none yet'}`;
  }

  override render() {
    if (!this.ready) return html`<header><h1>Anomaly pre-annotation</h1><span class="status">Opening the session…</span></header>`;
    const e = this.current;
    const d = e && this.model.display.get(e.id);
    const r = e && this.session.results.get(e.id);
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
        <button @click=${() => void this.newSession()} data-testid="new-session" title="Start an empty session">New session</button>
        <button @click=${() => void this.run('help')} title="Keyboard shortcuts">? Shortcuts</button>
      </header>
      <aside>
        <inp-review-queue .images=${this.session.order.map((id) => this.session.entries.get(id)!).map((x) => ({
          id: x.id, name: x.name, status: x.status, accepted: x.regions.filter((g) => g.state === 'accepted').length, rejected: x.regions.filter((g) => g.state === 'rejected').length, pending: 0,
          ...(this.session.results.get(x.id)?.model && this.session.results.get(x.id)?.model !== 'failed' ? { score: this.session.results.get(x.id)!.score } : {}),
          ...this.analysisOf(x.id),
        }))} .current=${this.currentId} .proposals=${proposals} .selected=${this.selected} .busy=${this.model.busy}
          @inp-action=${this.onAction} @inp-region-select=${(ev: CustomEvent<InpEvents['inp-region-select']>) => { this.selected = ev.detail.key ?? undefined; this.refresh(); }}></inp-review-queue>
      </aside>
      <main>
        <div class="tools">
          ${tools.map(([t, label, k]) => html`<button aria-pressed=${this.tool === t} data-tool=${t} @click=${() => { this.tool = t; this.refresh(); }}>${label} <kbd>${k}</kbd></button>`)}
          <label>Size <input type="range" min="1" max="80" .value=${String(this.brushSize)} @input=${(ev: Event) => { this.brushSize = Number((ev.target as HTMLInputElement).value); this.refresh(); }}></label>
          <button @click=${() => this.undo(false)} title="Undo (Ctrl+Z)">↶</button>
          <button @click=${() => this.undo(true)} title="Redo (Ctrl+Shift+Z)">↷</button>
          <label><input type="checkbox" .checked=${this.heatmap} @change=${(ev: Event) => { this.heatmap = (ev.target as HTMLInputElement).checked; this.refresh(); }} data-testid="heatmap"> Heat map <kbd>H</kbd></label>
          <label><input type="checkbox" .checked=${this.fill} @change=${(ev: Event) => { this.fill = (ev.target as HTMLInputElement).checked; this.refresh(); }} data-testid="fill"> Fill masks <kbd>M</kbd></label>
          <label>Opacity <input type="range" min="0" max="1" step="0.05" .value=${String(this.opacity)} @input=${(ev: Event) => { this.opacity = Number((ev.target as HTMLInputElement).value); this.refresh(); }}></label>
        </div>
        <inp-image-canvas .image=${d?.image} .map=${map} .range=${range} .heatmap=${this.heatmap} .opacity=${this.opacity} .fill=${this.fill} .regions=${regions} .selected=${this.selected}
          .tool=${this.tool} .brushSize=${this.brushSize} data-image=${e?.id ?? ''}
          @inp-region-select=${(ev: CustomEvent<InpEvents['inp-region-select']>) => { this.selected = ev.detail.key ?? undefined; this.refresh(); }}
          @inp-mask-edit=${(ev: CustomEvent<InpEvents['inp-mask-edit']>) => void this.editMask(ev.detail.key, ev.detail.mask).catch((err) => this.fail(err, 'edit'))}></inp-image-canvas>
        <section>
          <inp-sensitivity .value=${this.sensitivityOf(this.current)} .global=${this.session.settings.sensitivity} .imageOnly=${this.current?.sensitivity !== undefined}
            .method=${this.calibration?.method ?? ''} .raw=${cut?.pixelThreshold} ?disabled=${!this.calibration}
            @inp-sensitivity-input=${(ev: CustomEvent<InpEvents['inp-sensitivity-input']>) => this.setSensitivity(ev.detail.value)}
            @inp-sensitivity-scope=${(ev: CustomEvent<InpEvents['inp-sensitivity-scope']>) => this.setSensitivityScope(ev.detail.imageOnly)}></inp-sensitivity>
        </section>
      </main>
      <aside>
        <section><h2>Model</h2>
          <inp-model-panel .backend=${this.model.backend} .backendNote=${this.model.backendNote} .info=${this.model.info} .validation=${this.model.validation} .refinement=${this.model.refinement} .defects=${this.model.acceptedDefectCount()} .progress=${this.model.progress} .cancelling=${this.model.cancelling} .normals=${this.normals().length}
            .untrained=${this.model.info?.kind === 'inp-former' ? this.normals().filter((id) => !this.model.trainedOn.has(id)).length : 0}
            @inp-model-action=${(ev: CustomEvent<InpEvents['inp-model-action']>) => void this.model.modelAction(ev.detail)}
            @inp-model-engine=${(ev: CustomEvent<InpEvents['inp-model-engine']>) => void this.model.setEngine(ev.detail.engine)}
            @inp-model-files=${(ev: CustomEvent<InpEvents['inp-model-files']>) => void this.model.loadModel(ev.detail.files)}
            @inp-model-url=${(ev: CustomEvent<InpEvents['inp-model-url']>) => void this.model.loadModelUrl(ev.detail.url)}></inp-model-panel>
        </section>
        <section><h2>Export</h2>
          <inp-export-menu .count=${this.session.order.filter((id) => this.session.entries.get(id)?.size).length}
            @inp-export=${(ev: CustomEvent<InpEvents['inp-export']>) => void this.exportAs(ev.detail.format, ev.detail.reviewedOnly).catch((err) => this.fail(err, 'export'))}
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
    if (files.length) void this.model.openFiles(files);
  }
}

if (!customElements.get('inp-workspace')) customElements.define('inp-workspace', Workspace);

declare global {
  interface HTMLElementTagNameMap { 'inp-workspace': Workspace }
}
