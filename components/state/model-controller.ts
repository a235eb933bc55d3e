import { downloadModel, forgetModel, keepLocalModel, pruneLocalModels } from './model-cache.ts';
import type { RawResult } from './review.ts';
import { newEntry, readSettings, DEFAULT_SETTINGS, type ImageEntry, type SessionSettings } from './session.ts';
import type { SessionState } from './session-state.ts';
import { openSessionStore, type SavedModel } from './session-store.ts';
import type { ModelActionDetail } from '../events.ts';
import {
  type BackendName, type DecodedImage, type EngineName, type ImageSource, makeSample, type MapResult, ModelClient, type ModelInfo, progressLine,
  type ProgressLine, type RefineResult, type ResultOf, type Selection, type TrainedModel, type TrainResult, type WebOnnxProvider, type WorkerRequest, workingSize,
} from '../../src/web.ts';
import { acceptedMask } from './review.ts';
import { acceptedRegions } from './session.ts';

/** The kNN detector starts (cold start) once this many images are marked normal. */
export const COLD_START_NORMALS = 3;
const FIT_DEBOUNCE_MS = 400;
/** Decoded images kept for display (the one on screen is never evicted). */
const DISPLAY_CACHE = 8;
/** performance.measure name of one image's proposals (decode + model + save), see predictQueue. */
const PREDICT_MEASURE = 'inp-predict';

/** What the model controller needs of the workspace it serves: its options, its session, and its review hooks. */
export interface ModelHost {
  readonly options: {
    readonly dbName: string; readonly inputSize: number; readonly backends?: BackendName[]; readonly engine?: EngineName;
    readonly providers?: WebOnnxProvider[]; readonly samples: ReadonlyArray<{ id: string; name: string; source: ImageSource }>;
  };
  readonly session: SessionState;
  currentId(): string | undefined;
  normals(): string[];
  recalibrate(): void;
  selectFirstPending(): void;
  refresh(): void;
  say(kind: 'error' | 'info', text: string): void;
  fail(e: unknown, what: string): void;
  commit(next: ImageEntry, undoable?: boolean): Promise<void>;
  go(id: string | undefined): Promise<void>;
  replaceSession(order: string[], entries: Map<string, ImageEntry>, settings: SessionSettings, files: Map<string, Uint8Array>): Promise<void>;
  /** Before the user's own images come in: the built-in samples go if nobody has touched them. */
  dropUntouchedSamples(): Promise<void>;
  setReady(): void;
}

/**
 * The workspace's detector side: the model worker (its client), the backend and the model in use, the running job
 * and its progress, decoding and the predict queue, fitting the kNN, loading, training and fine-tuning models,
 * and remembering the model with the session. The element renders what this holds and calls it on user actions.
 */
export class ModelController {
  client?: ModelClient;
  backend?: string;
  backendNote = '';
  info?: ModelInfo;
  progress?: ProgressLine;
  job?: { cancel(): void };
  /** Cancel was pressed and the job has not stopped yet: the panel says "Cancelling…". */
  cancelling = false;
  /** Working-size pixels of the last few images, for display. */
  display = new Map<string, DecodedImage>();
  /** Images the worker has decoded and keeps inputs for. */
  registered = new Set<string>();
  /** What the canvas says while the model works on the image shown. */
  busy?: string;
  /** The image the model is predicting now (any image, shown or not): the image list marks it. */
  analysing?: string;
  fitTimer?: ReturnType<typeof setTimeout>;
  fitted = '';
  /** Normals the INP-Former in use was last trained or fine-tuned on (none for a model just loaded). */
  trainedOn = new Set<string>();
  /** The last training's result (its model folder too, so the user can still pick it) and its validation. */
  lastTraining?: TrainResult;
  validation?: { selection: Selection; inUse: boolean };
  /** The last refinement's outcome (both maps' held-out figures), until the model in use changes. */
  refinement?: RefineResult;
  predicting = false;

  constructor(private readonly host: ModelHost) {}

  /** The worker goes with the element. */
  dispose(): void {
    clearTimeout(this.fitTimer);
    this.client?.dispose();
  }

  /** A removed image: nothing of it is kept for display or counted as registered. */
  forgetImage(id: string): void {
    this.display.delete(id);
    this.registered.delete(id);
  }

  /** A new session drops what the worker held of the old one. */
  forgetSession(): void {
    this.display.clear();
    this.registered.clear();
    this.trainedOn.clear();
    this.fitted = '';
  }

  async start(): Promise<void> {
    let trained: SavedModel | undefined;
    try {
      this.host.session.store?.close();
      this.host.session.store = await openSessionStore(this.host.options.dbName);
      const saved = await this.host.session.store.load();
      if (saved.order !== undefined) {
        this.host.session.order = saved.order;
        this.host.session.entries = saved.entries;
        this.host.session.results = saved.results;
        this.host.session.settings = readSettings(saved.settings);
        trained = saved.model;
      } else {
        await this.host.replaceSession(this.host.options.samples.map((s) => s.id), new Map(this.host.options.samples.map((s) => [s.id, newEntry(s.id, s.name, s.source)])), { ...DEFAULT_SETTINGS }, new Map());
      }
    } catch (e) {
      this.host.fail(e, 'the saved session could not be opened (working without saving)');
      if (!this.host.session.order.length) {
        this.host.session.order = this.host.options.samples.map((s) => s.id);
        this.host.session.entries = new Map(this.host.options.samples.map((s) => [s.id, newEntry(s.id, s.name, s.source)]));
      }
    }
    this.host.session.settings.current ??= this.host.session.order[0];
    this.host.recalibrate();
    this.host.setReady();
    this.host.refresh();
    this.client = ModelClient.start();
    void this.showCurrent();
    try {
      const engine = { engine: this.host.options.engine ?? this.host.session.settings.engine ?? 'tfjs', providers: this.host.options.providers };
      const r = await this.client.request({ type: 'init', ...(this.host.options.backends ? { backends: this.host.options.backends } : {}), inputSize: this.host.options.inputSize, engine }).result;
      this.backend = r.backend;
      this.backendNote = r.failures.length ? `skipped: ${r.failures.join('; ')}` : '';
      this.setInfo(r.info);
      this.host.refresh();
      // The model in use comes back (a trained head from the session, a URL's from the browser's cache); the kNN fit
      // is skipped while it is in use.
      if (trained) await this.restoreTrained(trained);
      else if (this.host.session.settings.modelUrl) await this.loadModelUrl(this.host.session.settings.modelUrl);
      this.scheduleFit(0);
    } catch (e) {
      this.backend = 'none';
      this.host.fail(e, 'the model could not start');
    }
  }

  /** Decodes (in the worker) and registers an image; the working-size pixels are cached for display. */
  async decoded(id: string): Promise<DecodedImage> {
    const have = this.display.get(id);
    if (have && this.registered.has(id)) return have;
    const e = this.host.session.entries.get(id)!;
    const bytes = e.source.kind === 'file' ? await this.host.session.store?.getFile(id) : undefined;
    if (e.source.kind === 'file' && !bytes) throw new Error(`${e.name}: its bytes are not in this browser's storage`);
    const d = await this.client!.request({ type: 'decode', id, name: e.name, source: e.source, bytes }).result;
    this.registered.add(id);
    this.display.set(id, d);
    // Keep the pixels of the last few images for display, never evicting the one on screen.
    if (this.display.size > DISPLAY_CACHE) this.display.delete([...this.display.keys()].find((k) => k !== this.host.currentId())!);
    // Re-read the entry: decisions may have been made on it while the worker decoded.
    const now = this.host.session.entries.get(id)!;
    if (!now.size) await this.host.commit({ ...now, size: { width: d.width, height: d.height, workWidth: d.workWidth, workHeight: d.workHeight } }, false);
    return d;
  }

  async showCurrent(): Promise<void> {
    const id = this.host.currentId();
    if (!id || !this.client) return;
    const e = this.host.session.entries.get(id)!;
    if (!this.display.has(id) && e.source.kind === 'sample') {
      // Samples are cheap to generate here: the page shows one at once, before the worker has even loaded tfjs.
      const { image } = makeSample(e.source.surface, e.source.defect, e.source.seed, e.source.size);
      this.display.set(id, { width: image.width, height: image.height, ...workingSize(image.width, image.height), image });
      this.host.refresh();
    }
    try {
      await this.decoded(id);
      this.host.refresh();
      void this.predictQueue();
    } catch (e) {
      this.host.fail(e, this.host.session.entries.get(id)?.name ?? id);
    }
  }

  /** Refits after normals change (debounced, so marking several in a row fits once). */
  scheduleFit(delay = FIT_DEBOUNCE_MS): void {
    clearTimeout(this.fitTimer);
    this.fitTimer = setTimeout(() => void this.fit(false), delay);
  }

  async fit(forced: boolean): Promise<void> {
    const normals = this.host.normals();
    if (!this.client || !this.backend || this.backend === 'none' || this.info?.kind === 'inp-former') return;
    if (!forced && (normals.length < COLD_START_NORMALS || normals.join() === this.fitted)) return;
    if (this.progress) { this.scheduleFit(); return; }
    await this.runJob({ type: 'fit', normals }, { label: 'fit', done: 0, total: normals.length * 3 }, async (r) => {
      this.fitted = normals.join();
      this.setInfo(r.info);
      // Every non-normal map came from the old bank: drop them; normals get their held-out maps.
      for (const id of [...this.host.session.results.keys()]) if (!normals.includes(id)) this.host.session.results.delete(id);
      await this.host.session.store?.clearResults();
      for (const n of r.normals) await this.saveResult(n);
      this.host.recalibrate();
      this.host.say('info', `Model fitted on ${normals.length} normal images`);
    }, { cancelled: 'Fit cancelled', failed: 'fitting the kNN detector failed' }, async () => {
      for (const id of normals) if (!this.registered.has(id)) await this.decoded(id);
    });
  }

  /**
   * One worker job behind the panel's progress bar and Cancel (fit, train, fine-tune, refine): `prepare` runs first,
   * `use` takes the result; a cancel or a failure is said and leaves the model in use. The predict queue goes on after.
   */
  private async runJob<K extends 'fit' | 'train' | 'refine'>(
    req: Extract<WorkerRequest, { type: K }>, start: ProgressLine, use: (r: ResultOf[K]) => Promise<void>,
    said: { cancelled: string; failed: string }, prepare?: () => Promise<void>,
  ): Promise<void> {
    try {
      await prepare?.();
      const job = this.client!.request(req, (p) => { this.progress = progressLine(p); this.host.refresh(); });
      this.job = job;
      this.progress = start;
      this.host.refresh();
      await use(await job.result);
    } catch (e) {
      if ((e as Error).message === 'cancelled') this.host.say('info', said.cancelled);
      else this.host.fail(e, said.failed);
    } finally {
      this.progress = undefined;
      this.job = undefined;
      this.cancelling = false;
      this.host.refresh();
    }
    void this.predictQueue();
  }

  async saveResult(m: MapResult): Promise<void> {
    const r: RawResult = { map: m.map, score: m.score, model: this.info?.version ?? '' };
    this.host.session.results.set(m.id, r);
    await this.host.session.store?.putResult(m.id, r);
  }

  /** Predicts missing maps: the current image first, then the others from there on, one at a time. */
  async predictQueue(): Promise<void> {
    if (this.predicting || !this.client || !this.info || this.info.kind === 'none' || this.progress) return;
    this.predicting = true;
    try {
      for (;;) {
        const start = Math.max(0, this.host.session.order.indexOf(this.host.currentId() ?? ''));
        const rotated = [...this.host.session.order.slice(start), ...this.host.session.order.slice(0, start)];
        // A kNN's normals have held-out maps from the fit; an INP-Former's normals are predicted like any image.
        const id = rotated.find((i) => !this.host.session.results.has(i) && (this.info!.kind === 'inp-former' || this.host.session.entries.get(i)?.status !== 'normal'));
        if (!id || this.progress) break;
        this.analysing = id;
        if (id === this.host.currentId()) this.busy = 'Model is looking at this image…';
        this.host.refresh();
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
          this.host.fail(e, this.host.session.entries.get(id)?.name ?? id);
          // Do not retry a failing image in a loop: give it an empty slot until the model changes.
          this.host.session.results.set(id, { map: { width: 1, height: 1, data: new Float32Array(1) }, score: 0, model: 'failed', error: e instanceof Error ? e.message : String(e) });
        }
        this.analysing = undefined;
        if (id === this.host.currentId()) this.busy = undefined;
        if (id === this.host.currentId() || this.host.session.entries.get(id)?.status === 'normal') { this.host.recalibrate(); this.host.selectFirstPending(); this.host.refresh(); }
      }
    } finally {
      this.predicting = false;
      this.busy = undefined;
      this.analysing = undefined;
      this.host.refresh();
    }
  }

  /**
   * Adds image files (a folder's too) to the session, sorted by path as a file browser lists them, with progress.
   * Ground-truth masks (a `ground_truth` folder, `*_mask.*` files, as MVTec and most datasets ship them) are masks,
   * not images to annotate: they are skipped, and a message says how many.
   */
  async openFiles(picked: File[]): Promise<void> {
    const pathOf = (f: File) => f.webkitRelativePath || f.name;
    const isMask = (f: File) => /(^|\/)ground_truth\//i.test(pathOf(f)) || /_mask\.[a-z]+$/i.test(f.name);
    const files = picked.filter((f) => !isMask(f)).sort((a, b) => pathOf(a).localeCompare(pathOf(b), undefined, { numeric: true }));
    if (files.length < picked.length) this.host.say('info', `Skipped ${picked.length - files.length} ground-truth mask file(s) (ground_truth/…, *_mask.*): masks are not images to annotate`);
    let added = 0;
    this.progress = { label: 'import', done: 0, total: files.length };
    this.host.refresh();
    for (const [i, f] of files.entries()) {
      this.progress = { label: 'import', done: i, total: files.length, detail: f.name };
      this.host.refresh();
      const id = `file-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      const bytes = new Uint8Array(await f.arrayBuffer());
      const name = f.webkitRelativePath || f.name;
      try {
        // Decode first: a file that is not an image never enters the session.
        const d = await this.client!.request({ type: 'decode', id, name, source: { kind: 'file', type: f.type }, bytes }).result;
        const e: ImageEntry = { ...newEntry(id, name, { kind: 'file', type: f.type }), size: { width: d.width, height: d.height, workWidth: d.workWidth, workHeight: d.workHeight } };
        // Only once a file proved to be an image: a wrong pick must not empty the session.
        if (!added) await this.host.dropUntouchedSamples();
        this.registered.add(id);
        this.display.set(id, d);
        await this.host.session.store?.putFile(id, bytes);
        this.host.session.entries.set(id, e);
        await this.host.session.store?.putEntry(e);
        this.host.session.order = [...this.host.session.order, id];
        await this.host.session.store?.putOrder(this.host.session.order);
        added++;
        if (d.width !== d.workWidth) this.host.say('info', `${name}: ${d.width}×${d.height}, shown and annotated at ${d.workWidth}×${d.workHeight}; exports are full size`);
      } catch (err) {
        this.host.fail(err, name);
      }
    }
    this.progress = undefined;
    if (added) await this.host.go(this.host.session.order[this.host.session.order.length - added]);
    this.host.refresh();
  }

  /** Local files are kept in the model cache first, so a reload restores them like a URL model. */
  loadModel(files: File[]): Promise<void> {
    return this.useModel(files.map((f) => f.name).join(', '), async () => {
      const payload = await Promise.all(files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
      const kept = await keepLocalModel(this.host.options.dbName, payload);
      if (kept.cacheNote) this.host.say('info', kept.cacheNote);
      return { files: payload, url: kept.url, urls: kept.urls };
    });
  }

  /** Downloads with progress (cancellable), or reads the browser's cache, then loads as a file would be. */
  loadModelUrl(url: string): Promise<void> {
    return this.useModel(url, async () => {
      const ctrl = new AbortController();
      this.job = { cancel: () => ctrl.abort() };
      const m = await downloadModel(url, {
        signal: ctrl.signal,
        onProgress: (p) => { this.progress = progressLine(p); this.host.refresh(); },
      });
      if (m.cached) this.host.say('info', `${m.files.map((f) => f.name).join(', ')}: from this browser's model cache (not downloaded again)`);
      if (m.cacheNote) this.host.say('info', m.cacheNote);
      return { files: m.files, url, urls: m.urls };
    });
  }

  /**
   * Gets a model's files (and the cache URLs they are kept under), hands them to the worker and drops the old model's
   * maps; `url` is remembered (and a trained head forgotten) so a reload restores the model. On failure the current
   * model and the session stay, with a visible message, and the files leave the cache so a retry does not read them
   * back.
   */
  async useModel(label: string, get: () => Promise<{ files: Array<{ name: string; bytes: Uint8Array }>; url?: string; urls: string[] }>): Promise<void> {
    if (!this.client) return;
    let urls: string[] = [];
    try {
      this.busy = `Loading ${label}…`;
      this.host.refresh();
      const m = await get();
      urls = m.urls;
      this.progress = undefined;
      const info = await this.client.request({ type: 'load-model', files: m.files }).result;
      this.setInfo(info);
      this.validation = undefined;
      this.trainedOn = new Set();
      this.host.session.results.clear();
      await this.host.session.store?.clearResults();
      this.host.recalibrate();
      void this.rememberModel(m.url);
      this.host.say('info', `Model loaded: ${info.name}`);
    } catch (e) {
      const cancelled = (e as Error).name === 'AbortError';
      if (cancelled) this.host.say('info', `Loading ${label} cancelled (the current model stays)`);
      else this.host.fail(e, 'the model could not be loaded (the current model stays)');
      await forgetModel(urls).catch((err) => this.host.fail(err, 'the model cache'));
    } finally {
      this.busy = undefined;
      this.progress = undefined;
      this.job = undefined;
      this.cancelling = false;
      this.host.refresh();
    }
    void this.predictQueue();
  }

  /**
   * Remembers the model in use with the session: a head trained here (saved whole), else the URL of a user's model
   * (its files are in the model cache), else neither (the kNN, fitted again from the normals). One transaction, then
   * the session's local model files that are no longer in use leave the cache. If the save fails, the message says so
   * and a reload goes back to the model saved before.
   */
  async rememberModel(url: string | undefined, trained?: SavedModel): Promise<void> {
    const before = this.host.session.settings.modelUrl;
    // In memory first: a settings write that starts meanwhile (next image, threshold) must not bring the old URL back.
    this.host.session.settings = { ...this.host.session.settings, modelUrl: url };
    try {
      await this.host.session.store?.putModel(this.host.session.settings, trained);
    } catch (e) {
      this.host.session.settings = { ...this.host.session.settings, modelUrl: before };
      void this.host.session.store?.putSettings(this.host.session.settings).catch((err) => this.host.fail(err, 'saving failed'));
      this.host.fail(e, `${trained ? 'the trained model' : 'the model in use'} could not be saved with the session (a reload goes back to the previous model)`);
      return;
    }
    await pruneLocalModels(this.host.options.dbName, url).catch((e) => this.host.fail(e, 'the model cache'));
  }

  /** A head trained here, back from the session: the same card and version, so the maps saved with it stay valid. */
  async restoreTrained(m: SavedModel): Promise<void> {
    if (!this.client) return;
    try {
      // As a job: Train and Fit wait, and a fit scheduled meanwhile comes back once it is done.
      this.progress = { label: 'restore', done: 0, total: 1, detail: m.card.name };
      this.host.refresh();
      const info = await this.client.request({ type: 'load-model', files: m.files, card: m.card }).result;
      this.setInfo(info);
      this.trainedOn = new Set(m.trainedOn);
      for (const [id, r] of this.host.session.results) if (r.model !== info.version) this.host.session.results.delete(id);
      this.host.recalibrate();
    } catch (e) {
      this.host.fail(e, 'the model trained in this session could not be restored (the kNN detector takes over; Train makes a new one)');
    } finally {
      this.progress = undefined;
      this.host.refresh();
    }
    void this.predictQueue();
  }

  /** The model in use, and a message when onnxruntime-web has just failed on it (tfjs took over). */
  setInfo(next: ModelInfo): void {
    const failure = next.engine.failure;
    if (failure && failure !== this.info?.engine.failure) this.host.say('error', failure);
    // Another model in use (refitted, trained, loaded): the last refinement's figures were about the previous one.
    if (next.version !== this.info?.version && next.version !== this.refinement?.info.version) this.refinement = undefined;
    this.info = next;
  }

  /** Switches the prediction engine (the maps already made stay: both engines run the same model). */
  async setEngine(engine: EngineName): Promise<void> {
    if (!this.client) return;
    this.host.session.settings = { ...this.host.session.settings, engine };
    void this.host.session.store?.putSettings(this.host.session.settings).catch((e) => this.host.fail(e, 'saving failed'));
    try {
      this.busy = `Starting ${engine === 'onnx' ? 'onnxruntime-web' : 'tfjs'}…`;
      this.host.refresh();
      this.setInfo(await this.client.request({ type: 'engine', choice: { engine, providers: this.host.options.providers } }).result);
    } catch (e) {
      this.host.fail(e, 'the engine could not be switched');
    } finally {
      this.busy = undefined;
      this.host.refresh();
    }
  }

  /** Back from an INP-Former to the kNN detector (after a confirmation: the INP-Former is forgotten). */
  async dropModel(): Promise<void> {
    if (!this.client || !confirm(`Replace ${this.info?.name} by a kNN detector fitted on the ${this.host.normals().length} normals? The INP-Former is discarded.`)) return;
    try {
      this.setInfo(await this.client.request({ type: 'drop-model' }).result);
      this.validation = undefined;
      this.trainedOn = new Set();
      this.host.session.results.clear();
      await this.host.session.store?.clearResults();
      this.host.recalibrate();
      await this.rememberModel(undefined);
    } catch (e) {
      this.host.fail(e, 'the model could not be dropped');
      return;
    }
    await this.fit(true);
  }

  /** A trained model becomes the one in use: its maps replace the old ones and it is saved with the session. */
  async adoptTrained(info: ModelInfo, model: TrainedModel, trainedOn: string[]): Promise<void> {
    this.setInfo(info);
    this.trainedOn = new Set(trainedOn);
    this.host.session.results.clear();
    await this.host.session.store?.clearResults();
    this.host.recalibrate();
    await this.rememberModel(undefined, { ...model, trainedOn });
  }

  /** The user's pick of a trained model that validated no better: loaded from its folder with its card. */
  async useTrained(): Promise<void> {
    const t = this.lastTraining;
    if (!this.client || !t || this.progress) return;
    try {
      const info = await this.client.request({ type: 'load-model', files: t.model.files, card: t.model.card }).result;
      await this.adoptTrained(info, t.model, t.trainedOn);
      this.validation = { selection: t.selection, inUse: true };
      this.host.say('info', `${info.name} is in use (your choice; it scored lower on the held-out images)`);
    } catch (e) {
      this.host.fail(e, 'the trained model could not be put in use (the current model stays)');
    }
    this.host.refresh();
    void this.predictQueue();
  }

  async modelAction(a: ModelActionDetail): Promise<void> {
    if (a.action === 'cancel') {
      if (!this.job) return;
      this.job.cancel();
      this.cancelling = true;
      this.host.refresh();
      return;
    }
    if (a.action === 'use-trained') { await this.useTrained(); return; }
    if (a.action === 'refine') { await this.refine(a.steps); return; }
    if (a.action === 'fit') { await (this.info?.kind === 'inp-former' ? this.dropModel() : this.fit(true)); return; }
    if (!this.client || this.progress) return;
    const [doing, done] = a.action === 'finetune' ? ['Fine-tuning', 'Fine-tuned'] : ['Training', 'Trained'];
    const normals = this.host.normals();
    await this.runJob({ type: 'train', job: a.action === 'finetune' ? 'finetune' : 'train', normals, steps: a.steps }, { label: a.action === 'finetune' ? 'fine-tune' : 'train', done: 0, total: a.steps }, async (r) => {
      this.lastTraining = r;
      this.validation = { selection: r.selection, inUse: r.selection.keep === 'candidate' };
      if (r.selection.keep === 'current') {
        this.host.say('info', `${done} on ${r.trainedOn.length} normals (${a.steps} steps), but it scored no higher on the held-out images than the model in use, which stays (see the model panel)`);
        return;
      }
      await this.adoptTrained(r.info, r.model, r.trainedOn);
      this.host.say('info', `${done} on ${r.trainedOn.length} normals (${a.steps} steps), checked on ${r.selection.candidate.normals} held-out normals: ${r.info.name}`);
    }, { cancelled: `${doing} cancelled (the current model stays)`, failed: `${doing} failed (the current model stays)` });
  }

  /** How many images acceptedDefects() would give (cheap: for the panel's button). */
  acceptedDefectCount(): number {
    let n = 0;
    for (const e of this.host.session.entries.values()) if (e.status === 'defective' && acceptedRegions(e).length) n++;
    return n;
  }

  /** Images marked defective with accepted regions: their union mask at the working size, what the refinement learns from. */
  acceptedDefects(): Array<{ id: string; mask: ReturnType<typeof acceptedMask> }> {
    const out = [];
    for (const [id, e] of this.host.session.entries) {
      const regions = acceptedRegions(e);
      if (e.status !== 'defective' || !regions.length) continue;
      out.push({ id, mask: acceptedMask(e, regions[0].mask.width, regions[0].mask.height) });
    }
    return out;
  }

  /**
   * Refines the model in use (INP-Former++ residual learning) from the normals and the accepted defects. The refined
   * map replaces the model's own only if it validated better; its maps then replace the old ones.
   */
  async refine(steps: number): Promise<void> {
    if (!this.client || this.progress) return;
    await this.runJob({ type: 'refine', normals: this.host.normals(), defects: this.acceptedDefects(), steps }, { label: 'refine', done: 0, total: steps }, async (r) => {
      this.refinement = r;
      if (r.selection.keep === 'current') {
        this.host.say('info', `Refined on ${r.normals} normals and ${r.defects} accepted defects, but its map was no tighter on the held-out images: the model's own map stays (see the model panel)`);
        return;
      }
      this.setInfo(r.info);
      this.host.session.results.clear();
      await this.host.session.store?.clearResults();
      // A refined kNN's normals come with held-out maps (as a fit's); an INP-Former's are predicted like any image.
      for (const n of r.normalMaps) await this.saveResult(n);
      this.host.recalibrate();
      this.host.say('info', `Refined on ${r.normals} normals and ${r.defects} accepted defects (${r.steps} steps): its map is in use`);
    }, { cancelled: 'Refinement cancelled (the model\'s map stays)', failed: 'Refinement failed (the model\'s map stays)' });
  }
}
