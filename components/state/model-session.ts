import { type AnnotatedImage, type BackendName, type BinaryMask, type DecodedImage, ModelClient, type ModelInfo, resizeMask, type ThresholdCalibration } from '../../src/web.ts';
import { sessionAnnotations } from './export.ts';
import { loopCalibration, pendingProposals, type RawResult } from './review.ts';
import { addRegion, markImage, newEntry, type ImageEntry, type ImageSource } from './session.ts';

/**
 * The in-browser model as a host tool (Label Studio's editor, CVAT's UI) uses it: the workspace's model worker
 * (kNN on the nsfwjs MobileNetV2, or a loaded INP-Former) plus the workspace's review loop, without its UI. Images
 * are registered once; normals build the memory bank (held-out maps calibrate); a host's decisions come back as
 * "normal" (refit with it) or "defective with these masks" (F1-adaptive calibration). An adapter over src/worker
 * and the workspace state beside it.
 */

export interface HostImage { id: string; name: string; source: ImageSource; bytes?: Uint8Array }

export class ModelSession {
  readonly entries = new Map<string, ImageEntry>();
  private readonly results = new Map<string, RawResult>();
  info?: ModelInfo;

  private constructor(private readonly client: ModelClient, readonly backend: BackendName) {}

  /** Starts the worker on the first backend that works (tfjs tries them in order). */
  /** `backends`: tried in this order; by default webgpu → webgl → wasm → cpu, skipping a software GPU. */
  static async start(backends?: BackendName[], inputSize = 224): Promise<ModelSession> {
    const client = ModelClient.start();
    try {
      const r = await client.request({ type: 'init', ...(backends ? { backends } : {}), inputSize }).result;
      return new ModelSession(client, r.backend);
    } catch (e) {
      client.dispose();
      throw e;
    }
  }

  /** Decodes an image in the worker (EXIF applied) and keeps its entry; sizes are the original and the working size. */
  async register(img: HostImage): Promise<DecodedImage> {
    const d = await this.client.request({ type: 'decode', id: img.id, name: img.name, source: img.source, bytes: img.bytes }).result;
    const entry = this.entries.get(img.id) ?? newEntry(img.id, img.name, img.source);
    this.entries.set(img.id, { ...entry, size: { width: d.width, height: d.height, workWidth: d.workWidth, workHeight: d.workHeight } });
    return d;
  }

  /** Marks registered images normal and rebuilds the memory bank from every normal so far. */
  async fitNormals(ids: readonly string[]): Promise<ModelInfo> {
    for (const id of ids) this.entries.set(id, markImage(this.entry(id), 'normal'));
    const normals = [...this.entries.values()].filter((e) => e.status === 'normal').map((e) => e.id);
    const r = await this.client.request({ type: 'fit', normals }).result;
    this.info = r.info;
    // The bank changed: every kept map is stale; the normals' held-out maps replace theirs.
    this.results.clear();
    for (const m of r.normals) this.results.set(m.id, { map: m.map, score: m.score, model: r.info.version });
    return r.info;
  }

  /** The image's raw map and score (kept until the model changes, so thresholds move without the model). */
  async predict(id: string): Promise<RawResult> {
    const kept = this.results.get(id);
    if (kept && kept.model === this.info?.version) return kept;
    const m = await this.client.request({ type: 'predict', id }).result;
    const r: RawResult = { map: m.map, score: m.score, model: this.info?.version ?? 'none' };
    this.results.set(id, r);
    return r;
  }

  /** The loop's calibration: held-out normals, then F1-adaptive once a defect was accepted (review.ts). */
  calibration(): ThresholdCalibration {
    const cal = loopCalibration([...this.entries.values()], this.results);
    if (!cal) throw new Error('no calibration yet: the model needs normal images first');
    return cal;
  }

  /** Proposals of an image at its original size, cut with `cal`, as the exporters take them. */
  async proposals(id: string, cal: ThresholdCalibration): Promise<AnnotatedImage> {
    const raw = await this.predict(id);
    const [img] = sessionAnnotations([id], this.entries, (e) => pendingProposals(e, raw, cal).pending);
    return img;
  }

  /**
   * The host's verdict on an image: no masks = normal (the memory bank is refit with it), masks (original size)
   * = defective with these accepted regions (they calibrate from now on).
   */
  async decide(id: string, accepted: readonly BinaryMask[]): Promise<void> {
    const e = this.entry(id);
    if (!accepted.length) {
      await this.fitNormals([id]);
      return;
    }
    const { workWidth, workHeight } = e.size!;
    let next = markImage({ ...e, regions: [] }, 'defective');
    for (const m of accepted) next = addRegion(next, { state: 'accepted', origin: 'model', edited: false, mask: resizeMask(m, workWidth, workHeight) });
    this.entries.set(id, next);
    await this.predict(id);
  }

  private entry(id: string): ImageEntry {
    const e = this.entries.get(id);
    if (!e?.size) throw new Error(`image ${id} is not registered with the model`);
    return e;
  }

  dispose(): void {
    this.client.dispose();
  }
}
