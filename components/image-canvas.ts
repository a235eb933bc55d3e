import { Canvas, Circle, FabricImage, Point, Polyline, type TPointerEventInfo } from 'fabric';
import { LitElement, css, html, type PropertyValues } from 'lit';
import { emptyMask, fillPolygon, paintStroke, type Point as Pt } from './state/mask-edit.ts';
import { emit, type EditTool } from './events.ts';
import type { AnomalyMap, BinaryMask, RgbImage } from '../src/web.ts';

/** A region as the canvas shows it; `key` is the host's name for it (events carry it back). */
export interface CanvasRegion { key: string; mask: BinaryMask; state: 'pending' | 'accepted' | 'rejected' }

const COLOURS: Record<CanvasRegion['state'], [number, number, number]> = { pending: [255, 196, 0], accepted: [30, 200, 90], rejected: [230, 50, 50] };

/** Black → red → yellow → white. */
function heat(t: number): [number, number, number] {
  return [Math.min(255, t * 765), Math.min(255, Math.max(0, t * 3 - 1) * 255), Math.min(255, Math.max(0, t * 3 - 2) * 255)];
}

function canvasOf(w: number, h: number, paint: (px: Uint8ClampedArray) => void): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const ctx = c.getContext('2d')!;
  const img = ctx.createImageData(w, h);
  paint(img.data);
  ctx.putImageData(img, 0, 0);
  return c;
}

/**
 * <inp-image-canvas>: the image, its anomaly heat map and the regions, on a fabric.js canvas, with the editing tools.
 * Properties: image, map (raw), range ([lo, hi] raw values shown from transparent to full colour; default the map's
 * min–max), heatmap (shown or not), opacity, fill (regions filled or outlined only), regions, selected (key),
 * tool, brushSize (pixels of the image). Zoom with the wheel, pan with Space+drag or the middle button, `fit()`.
 * Events: inp-region-select (click), inp-mask-edit (a finished stroke or polygon, with the region's new mask).
 *
 * @prop {RgbImage | undefined} image - The image at its working size.
 * @prop {AnomalyMap | undefined} map - The raw anomaly map drawn as the heat map.
 * @prop {[number, number] | undefined} range - Map values shown from cold to hot.
 * @prop {boolean} heatmap - Show the heat map.
 * @prop {number} opacity - Heat-map opacity, 0–1.
 * @prop {boolean} fill - Fill the regions (false: outlines only, so the defect under a mask stays visible).
 * @prop {CanvasRegion[]} regions - Proposals and decided regions with their masks.
 * @prop {string | undefined} selected - Key of the selected region.
 * @prop {EditTool} tool - select, brush, eraser, polygon-add or polygon-subtract.
 * @prop {number} brushSize - Brush radius in working-size pixels (attribute brush-size).
 * @fires inp-region-select - {key}: a region was clicked (null: empty space).
 * @fires inp-mask-edit - {key, mask}: a stroke or polygon finished; the region's new mask.
 */
export class ImageCanvas extends LitElement {
  static override properties = {
    image: { attribute: false }, map: { attribute: false }, range: { attribute: false }, heatmap: { type: Boolean }, opacity: { type: Number }, fill: { type: Boolean },
    regions: { attribute: false }, selected: { type: String }, tool: { type: String }, brushSize: { type: Number, attribute: 'brush-size' },
  };
  static override styles = css`
    :host { display: block; position: relative; background: #1b1f27; border-radius: 6px; overflow: hidden; min-height: 320px; }
    .stage { position: absolute; inset: 0; }
    .hint { position: absolute; left: 8px; bottom: 6px; color: #cfd6e4; font: 12px system-ui, sans-serif; pointer-events: none; text-shadow: 0 1px 2px #000; }
  `;
  declare image?: RgbImage;
  declare map?: AnomalyMap;
  declare range?: [number, number];
  declare heatmap: boolean;
  declare opacity: number;
  declare fill: boolean;
  declare regions: CanvasRegion[];
  declare selected?: string;
  declare tool: EditTool;
  declare brushSize: number;

  // Declared, not initialised as class fields: under a consumer's useDefineForClassFields a field would shadow
  // Lit's reactive accessor (setting it would not re-render). Defaults are set here instead.
  constructor() {
    super();
    this.heatmap = true;
    this.opacity = 0.45;
    this.fill = true;
    this.regions = [];
    this.tool = 'select';
    this.brushSize = 8;
  }

  private fc?: Canvas;
  private base?: FabricImage;
  private heat?: FabricImage;
  private overlay?: FabricImage;
  private cursor?: Circle;
  private poly?: Polyline;
  private polyPoints: Pt[] = [];
  /** The stroke in progress: the region's mask as painted so far, and the last point. */
  private stroke?: { key: string | null; mask: BinaryMask; last: Pt };
  private panning?: { x: number; y: number };
  private spaceDown = false;
  private resizeObserver?: ResizeObserver;

  override render() {
    // Drawing with a region selected adds to it; say so, and how to draw a new one instead (Esc deselects).
    const target = this.selected ? 'adds to the selected region (Esc: draw a new one)' : 'draws a new region';
    const hint = this.tool === 'select' ? 'click a region to select it'
      : this.tool.startsWith('polygon') ? `${this.tool === 'polygon-add' ? `${target} · ` : ''}click points · Enter / double-click closes · Esc cancels`
        : `${this.tool} ${this.brushSize}px${this.tool === 'brush' ? ` · ${target}` : ''} · [ ] size`;
    return html`<div class="stage" part="stage"><canvas></canvas></div><div class="hint" data-testid="canvas-hint">${hint}</div>`;
  }

  protected override firstUpdated(): void {
    const el = this.renderRoot.querySelector('canvas')!;
    const stage = this.renderRoot.querySelector('.stage') as HTMLElement;
    this.fc = new Canvas(el, { selection: false, fireMiddleClick: true, stopContextMenu: true, enableRetinaScaling: false, backgroundColor: '#1b1f27' });
    this.fc.on('mouse:down', (o) => this.onDown(o));
    this.fc.on('mouse:move', (o) => this.onMove(o));
    this.fc.on('mouse:up', () => this.onUp());
    this.fc.on('mouse:dblclick', () => this.closePolygon());
    this.fc.on('mouse:wheel', (o) => {
      const e = o.e as WheelEvent;
      const z = Math.min(40, Math.max(0.05, this.fc!.getZoom() * 0.999 ** e.deltaY));
      this.fc!.zoomToPoint(new Point(e.offsetX, e.offsetY), z);
      e.preventDefault();
      e.stopPropagation();
    });
    const size = () => { this.fc!.setDimensions({ width: stage.clientWidth || 640, height: stage.clientHeight || 480 }); this.fit(); };
    this.resizeObserver = new ResizeObserver(size);
    this.resizeObserver.observe(stage);
    window.addEventListener('keydown', this.onKey, true);
    window.addEventListener('keyup', this.onKeyUp, true);
    size();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('keydown', this.onKey, true);
    window.removeEventListener('keyup', this.onKeyUp, true);
    this.resizeObserver?.disconnect();
    void this.fc?.dispose();
    this.fc = undefined;
  }

  /** Zooms so the whole image fits, centred. */
  fit(): void {
    if (!this.fc || !this.image) return;
    const { width: W, height: H } = this.fc;
    const z = Math.min(W / this.image.width, H / this.image.height) * 0.96;
    this.fc.setViewportTransform([z, 0, 0, z, (W - this.image.width * z) / 2, (H - this.image.height * z) / 2]);
  }

  /** Closes the polygon being drawn (Enter). */
  closePolygon(): void {
    if (!this.tool.startsWith('polygon') || this.polyPoints.length < 3 || !this.image) { this.cancelPolygon(); return; }
    const { key, mask } = this.targetMask();
    const out = fillPolygon(mask, this.polyPoints, this.tool === 'polygon-add' ? 1 : 0);
    this.cancelPolygon();
    emit(this, 'inp-mask-edit', { key, mask: out });
  }

  cancelPolygon(): void {
    this.polyPoints = [];
    if (this.poly) { this.fc?.remove(this.poly); this.poly = undefined; this.fc?.requestRenderAll(); }
  }

  private readonly onKey = (e: KeyboardEvent) => {
    if (e.key === ' ' && !(e.target instanceof HTMLInputElement)) { this.spaceDown = true; e.preventDefault(); }
    if (e.key === 'Enter' && this.polyPoints.length) { this.closePolygon(); e.stopImmediatePropagation(); e.preventDefault(); }
    if (e.key === 'Escape' && this.polyPoints.length) { this.cancelPolygon(); e.stopImmediatePropagation(); }
  };

  private readonly onKeyUp = (e: KeyboardEvent) => { if (e.key === ' ') this.spaceDown = false; };

  /** The selected region's mask (an edit target), or an empty one for a new drawn region. */
  private targetMask(): { key: string | null; mask: BinaryMask } {
    const r = this.regions.find((x) => x.key === this.selected && x.state !== 'rejected');
    return r ? { key: r.key, mask: r.mask } : { key: null, mask: emptyMask(this.image!.width, this.image!.height) };
  }

  private imagePoint(o: TPointerEventInfo): Pt {
    const p = this.fc!.getScenePoint(o.e);
    return [p.x, p.y];
  }

  private onDown(o: TPointerEventInfo): void {
    if (!this.image) return;
    const e = o.e as MouseEvent;
    if (this.spaceDown || e.button === 1) { this.panning = { x: e.clientX, y: e.clientY }; return; }
    const p = this.imagePoint(o);
    if (this.tool === 'select') {
      const [x, y] = [Math.floor(p[0]), Math.floor(p[1])];
      const inside = x >= 0 && y >= 0 && x < this.image.width && y < this.image.height;
      const hit = inside ? [...this.regions].reverse().find((r) => r.state !== 'rejected' && r.mask.data[y * r.mask.width + x]) : undefined;
      emit(this, 'inp-region-select', { key: hit?.key ?? null });
    } else if (this.tool === 'brush' || this.tool === 'eraser') {
      const { key, mask } = this.targetMask();
      this.stroke = { key, mask: paintStroke(mask, p, p, this.brushSize / 2, this.tool === 'brush' ? 1 : 0), last: p };
      this.drawOverlay();
    } else {
      this.polyPoints.push(p);
      if (this.poly) this.fc!.remove(this.poly);
      const colour = this.tool === 'polygon-add' ? '#1ec85a' : '#e63232';
      this.poly = new Polyline([...this.polyPoints, p].map(([x, y]) => ({ x, y })), {
        fill: `${colour}33`, stroke: colour, strokeWidth: 1.5 / this.fc!.getZoom(), selectable: false, evented: false, objectCaching: false,
      });
      this.fc!.add(this.poly);
    }
  }

  private onMove(o: TPointerEventInfo): void {
    if (!this.image || !this.fc) return;
    const e = o.e as MouseEvent;
    if (this.panning) {
      this.fc.relativePan(new Point(e.clientX - this.panning.x, e.clientY - this.panning.y));
      this.panning = { x: e.clientX, y: e.clientY };
      return;
    }
    const p = this.imagePoint(o);
    if (this.tool === 'brush' || this.tool === 'eraser') {
      this.cursor ??= new Circle({ radius: 1, fill: 'transparent', stroke: '#fff', selectable: false, evented: false, originX: 'center', originY: 'center' });
      if (!this.fc.contains(this.cursor)) this.fc.add(this.cursor);
      this.cursor.set({ left: p[0], top: p[1], radius: this.brushSize / 2, strokeWidth: 1 / this.fc.getZoom() });
      if (this.stroke) {
        this.stroke.mask = paintStroke(this.stroke.mask, this.stroke.last, p, this.brushSize / 2, this.tool === 'brush' ? 1 : 0);
        this.stroke.last = p;
        this.drawOverlay();
      }
      this.fc.requestRenderAll();
    } else if (this.poly && this.polyPoints.length) {
      this.poly.set({ points: [...this.polyPoints, p].map(([x, y]) => ({ x, y })) });
      this.poly.setDimensions();
      this.fc.requestRenderAll();
    }
  }

  private onUp(): void {
    this.panning = undefined;
    if (!this.stroke) return;
    const { key, mask } = this.stroke;
    this.stroke = undefined;
    emit(this, 'inp-mask-edit', { key, mask });
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (!this.fc) return;
    if (changed.has('image')) this.drawImage();
    if (changed.has('map') || changed.has('image') || changed.has('range')) this.drawHeat();
    if (changed.has('heatmap') || changed.has('opacity') || changed.has('map') || changed.has('image')) this.heat?.set({ visible: this.heatmap, opacity: this.opacity });
    if (changed.has('regions') || changed.has('selected') || changed.has('image') || changed.has('fill')) this.drawOverlay();
    if (changed.has('tool')) {
      this.cancelPolygon();
      if (this.cursor && !['brush', 'eraser'].includes(this.tool)) this.fc.remove(this.cursor);
      this.fc.defaultCursor = this.tool === 'select' ? 'default' : 'crosshair';
    }
    this.fc.requestRenderAll();
  }

  private layer(old: FabricImage | undefined, c: HTMLCanvasElement, index: number): FabricImage {
    if (old) this.fc!.remove(old);
    const img = new FabricImage(c, { left: 0, top: 0, originX: 'left', originY: 'top', selectable: false, evented: false, objectCaching: false });
    this.fc!.insertAt(Math.min(index, this.fc!.getObjects().length), img);
    return img;
  }

  private drawImage(): void {
    const im = this.image;
    if (!im) return;
    const c = canvasOf(im.width, im.height, (px) => {
      for (let i = 0, n = im.width * im.height; i < n; i++) {
        px[i * 4] = im.data[i * 3]; px[i * 4 + 1] = im.data[i * 3 + 1]; px[i * 4 + 2] = im.data[i * 3 + 2]; px[i * 4 + 3] = 255;
      }
    });
    this.base = this.layer(this.base, c, 0);
    this.fit();
  }

  private drawHeat(): void {
    const m = this.map;
    if (!m || !this.image) {
      if (this.heat) { this.fc!.remove(this.heat); this.heat = undefined; }
      return;
    }
    let [lo, hi] = this.range ?? [Infinity, -Infinity];
    if (!this.range) for (const v of m.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
    const c = canvasOf(m.width, m.height, (px) => {
      for (let i = 0; i < m.data.length; i++) {
        const t = Math.min(1, Math.max(0, (m.data[i] - lo) / (hi - lo || 1)));
        const [r, g, b] = heat(t);
        px[i * 4] = r; px[i * 4 + 1] = g; px[i * 4 + 2] = b; px[i * 4 + 3] = 255 * Math.min(1, t * 1.5);
      }
    });
    this.heat = this.layer(this.heat, c, 1);
    this.heat.set({ scaleX: this.image.width / m.width, scaleY: this.image.height / m.height, visible: this.heatmap, opacity: this.opacity });
  }

  /** All regions in one bitmap: translucent fill (unless `fill` is off), opaque outline; the selected one brighter. */
  private drawOverlay(): void {
    const im = this.image;
    if (!im) return;
    const { width: w, height: h } = im;
    const list = this.regions.map((r) => (this.stroke && r.key === this.stroke.key ? { ...r, mask: this.stroke.mask } : r));
    if (this.stroke && this.stroke.key === null) list.push({ key: '', mask: this.stroke.mask, state: 'accepted' });
    const c = canvasOf(w, h, (px) => {
      for (const r of list) {
        if (r.mask.width !== w || r.mask.height !== h) continue;
        const sel = r.key === this.selected || r.key === '';
        const [cr, cg, cb] = COLOURS[r.state];
        const fill = !this.fill ? 0 : r.state === 'rejected' ? 40 : sel ? 120 : 70;
        const d = r.mask.data;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const i = y * w + x;
            if (!d[i]) continue;
            const edge = x === 0 || y === 0 || x === w - 1 || y === h - 1 || !d[i - 1] || !d[i + 1] || !d[i - w] || !d[i + w];
            px[i * 4] = sel && edge ? 255 : cr; px[i * 4 + 1] = sel && edge ? 255 : cg; px[i * 4 + 2] = sel && edge ? 255 : cb;
            px[i * 4 + 3] = edge ? 255 : fill;
          }
        }
      }
    });
    this.overlay = this.layer(this.overlay, c, 2);
    this.fc!.requestRenderAll();
  }
}

if (!customElements.get('inp-image-canvas')) customElements.define('inp-image-canvas', ImageCanvas);

declare global {
  interface HTMLElementTagNameMap { 'inp-image-canvas': ImageCanvas }
}
