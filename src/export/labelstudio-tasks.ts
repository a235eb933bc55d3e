import { InputError } from '../errors.ts';
import { checkAnnotatedImages, DEFAULT_LABEL, regionLabel, type AnnotatedImage, type AnnotatedRegion, type ExportSource, type ImportedImage } from './annotations.ts';
import { decodeBitmaskDataUrl, encodeBitmaskDataUrl } from './labelstudio-bitmask.ts';
import { decodeLabelStudioRle, encodeLabelStudioRle } from './labelstudio-rle.ts';
import type { BinaryMask } from '../image/mask.ts';
import { escapeXml } from './xml.ts';

/**
 * The mask control of a project: BrushLabels (brush RLE), BitmaskLabels (PNG data URL, in recent Label Studio releases), or a
 * Brush with a separate Labels control (one `brush` and one `labels` result per region, sharing its id).
 */
export type LabelStudioControl = 'brushlabels' | 'bitmasklabels' | 'brush+labels';
export const LABEL_STUDIO_CONTROLS: readonly LabelStudioControl[] = ['brushlabels', 'bitmasklabels', 'brush+labels'];

/** Names in the labelling config the results refer to. Defaults match labelStudioConfig(). */
export interface LabelStudioOptions {
  /** The mask control's type (default "brushlabels"). */
  control?: LabelStudioControl;
  /** The mask control's name: BrushLabels, BitmaskLabels or Brush (default "defect"). */
  fromName?: string;
  /** With `brush+labels`: the Labels control's name (default "label"). */
  labelsName?: string;
  /** Image tag name (default "image"). */
  toName?: string;
  /** Key of the image URL in task data (default "image", i.e. `$image`). */
  dataKey?: string;
  /** The task's image URL for an image (default its file name; LS wants e.g. /data/local-files/?d=… or a URL). */
  imageUrl?: (fileName: string) => string;
  /** Choices name of the image's verdict (normal / defective) in the config and in reviewed tasks (default "status"). */
  statusName?: string;
}

/** An image-level verdict as Label Studio stores a Choices answer. */
export interface LabelStudioChoice { id: string; type: 'choices'; from_name: string; to_name: string; value: { choices: string[] } }

interface ResultBase {
  id: string;
  from_name: string;
  to_name: string;
  original_width: number;
  original_height: number;
  image_rotation: 0;
  score?: number;
  readonly: false;
}
export interface BrushLabelsResult extends ResultBase { type: 'brushlabels'; value: { format: 'rle'; rle: number[]; brushlabels: string[] } }
export interface BitmaskLabelsResult extends ResultBase { type: 'bitmasklabels'; value: { imageDataURL: string; bitmasklabels: string[] } }
export interface BrushResult extends ResultBase { type: 'brush'; value: { format: 'rle'; rle: number[] } }
export interface LabelsResult extends ResultBase { type: 'labels'; value: { format: 'rle'; rle: number[]; labels: string[] } }
/** One region's result for one control (Label Studio serialises a region once per control that labels it). */
export type LabelStudioResult = BrushLabelsResult | BitmaskLabelsResult | BrushResult | LabelsResult;
export interface LabelStudioPrediction { model_version: string; score?: number; result: LabelStudioResult[] }
/** `annotations`: the annotator's reviewed work (a workspace export), beside the model's pending `predictions`. */
export interface LabelStudioTask { data: Record<string, string>; annotations?: Array<{ result: Array<LabelStudioResult | LabelStudioChoice> }>; predictions: LabelStudioPrediction[] }

function names(o: LabelStudioOptions) {
  return { control: o.control ?? 'brushlabels', fromName: o.fromName ?? 'defect', labelsName: o.labelsName ?? 'label', toName: o.toName ?? 'image', dataKey: o.dataKey ?? 'image' };
}

/** A labelling config these tasks import into: an Image and the mask control with the source's label(s). */
export function labelStudioConfig(labels: readonly string[] = [DEFAULT_LABEL], options: LabelStudioOptions = {}): string {
  const n = names(options);
  const labelTags = labels.map((l) => `    <Label value="${escapeXml(l)}" background="#ff0000"/>`);
  const to = `toName="${escapeXml(n.toName)}"`;
  const control = n.control === 'brush+labels'
    ? [`  <Labels name="${escapeXml(n.labelsName)}" ${to}>`, ...labelTags, '  </Labels>', `  <Brush name="${escapeXml(n.fromName)}" ${to}/>`]
    : n.control === 'bitmasklabels'
      ? [`  <BitmaskLabels name="${escapeXml(n.fromName)}" ${to}>`, ...labelTags, '  </BitmaskLabels>']
      : [`  <BrushLabels name="${escapeXml(n.fromName)}" ${to}>`, ...labelTags, '  </BrushLabels>'];
  return [
    '<View>',
    // Bitmasks work on single pixels: Label Studio asks for smoothing="false" on their Image.
    `  <Image name="${escapeXml(n.toName)}" value="$${escapeXml(n.dataKey)}"${n.control === 'bitmasklabels' ? ' smoothing="false"' : ''}/>`,
    ...control,
    `  <Choices name="${escapeXml(options.statusName ?? 'status')}" toName="${escapeXml(n.toName)}" choice="single" showInline="true">`,
    '    <Choice value="normal"/>',
    '    <Choice value="defective"/>',
    '  </Choices>',
    '</View>',
  ].join('\n');
}

/**
 * Label Studio tasks with one prediction each (importable as a JSON list; the per-task `predictions[0]` is also what
 * an ML backend's /predict answers). One brushlabels result per region, so the annotator accepts or rejects each
 * defect; `original_width/height` are the mask size, which must be the image's natural size in Label Studio. Images
 * without regions get an empty result with their score, so "normal" is a visible prediction too.
 */
export function buildLabelStudioTasks(images: readonly AnnotatedImage[], source: ExportSource, options: LabelStudioOptions = {}): LabelStudioTask[] {
  checkAnnotatedImages(images);
  const n = names(options);
  const url = options.imageUrl ?? ((f: string) => f);
  const brush = (img: AnnotatedImage) => (r: AnnotatedImage['regions'][number], k: number): LabelStudioResult[] => {
    const base = {
      id: `region-${k + 1}`, to_name: n.toName, original_width: img.width, original_height: img.height, image_rotation: 0 as const,
    };
    const tail = { ...(r.score !== undefined ? { score: r.score } : {}), readonly: false as const };
    const label = regionLabel(r, source);
    if (n.control === 'bitmasklabels') {
      return [{ ...base, type: 'bitmasklabels', from_name: n.fromName, value: { imageDataURL: encodeBitmaskDataUrl(r.mask), bitmasklabels: [label] }, ...tail }];
    }
    const rle = encodeLabelStudioRle(r.mask);
    if (n.control === 'brush+labels') {
      return [
        { ...base, type: 'brush', from_name: n.fromName, value: { format: 'rle', rle }, ...tail },
        { ...base, type: 'labels', from_name: n.labelsName, value: { format: 'rle', rle, labels: [label] }, ...tail },
      ];
    }
    return [{ ...base, type: 'brushlabels', from_name: n.fromName, value: { format: 'rle', rle, brushlabels: [label] }, ...tail }];
  };
  return images.map((img) => {
    // A reviewed export (statuses or decided regions known): the annotator's work is an annotation, what the model
    // proposed and nobody decided yet stays a prediction. Otherwise every region is the model's prediction.
    const reviewed = img.status !== undefined || img.regions.some((r) => r.review !== undefined);
    const decided = reviewed ? img.regions.filter((r) => r.review !== undefined && r.review !== 'pending') : [];
    const pending = reviewed ? img.regions.filter((r) => r.review === undefined || r.review === 'pending') : img.regions;
    const results = pending.flatMap(brush(img));
    const task: LabelStudioTask = {
      data: { [n.dataKey]: url(img.fileName) },
      predictions: [{ model_version: source.model, ...(img.score !== undefined ? { score: img.score } : {}), result: results }],
    };
    if (reviewed && (decided.length || img.status === 'normal' || img.status === 'defective')) {
      const verdict: LabelStudioChoice[] = img.status === 'normal' || img.status === 'defective'
        ? [{ id: 'status', type: 'choices', from_name: options.statusName ?? 'status', to_name: n.toName, value: { choices: [img.status] } }]
        : [];
      task.annotations = [{ result: [...decided.flatMap((r, k) => brush(img)(r, pending.length + k)), ...verdict] }];
    }
    return task;
  });
}

export interface LabelStudioReadOptions extends LabelStudioOptions {
  /** Read the first prediction (default: what we export) or the first non-cancelled annotation (an LS export). */
  from?: 'predictions' | 'annotations';
  /** The file name for a task's image URL (default the URL itself, the inverse of the default imageUrl). */
  fileName?: (url: string) => string;
}

/**
 * Reads tasks (a list, or one task; our files or a Label Studio JSON export) back to masks: the mask results
 * (brushlabels, bitmasklabels, or brush with its labels result) of the chosen prediction or annotation, for the
 * mask control `fromName` (and `labelsName`) when given. A task without mask results has no known size
 * (width/height null); matchImages fills it in.
 */
export function parseLabelStudioTasks(text: string, where: string, options: LabelStudioReadOptions = {}): ImportedImage[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(where, `is not valid JSON (${(e as Error).message})`);
  }
  const tasks = Array.isArray(json) ? json : [json];
  const dataKey = options.dataKey ?? 'image';
  const from = options.from ?? 'predictions';
  const toFile = options.fileName ?? ((u: string) => u);
  return tasks.map((task: any, t) => {
    const at = `${where}: [${t}]`;
    if (typeof task !== 'object' || task === null || typeof task.data !== 'object' || task.data === null) throw new InputError(at, 'must be a task with a "data" object');
    if (typeof task.data[dataKey] !== 'string') throw new InputError(`${at}.data.${dataKey}`, 'must be the image URL (a string); set dataKey to the Image tag\'s $variable');
    const list = task[from] ?? [];
    if (!Array.isArray(list)) throw new InputError(`${at}.${from}`, 'must be a list');
    const k = list.findIndex((p: any) => !p?.was_cancelled);
    const chosen = k < 0 ? undefined : list[k];
    const img: ImportedImage = { fileName: toFile(task.data[dataKey]), width: null, height: null, regions: [] };
    if (!chosen) return img;
    if (typeof chosen.score === 'number') img.score = chosen.score;
    if (!Array.isArray(chosen.result)) throw new InputError(`${at}.${from}[${k}].result`, 'must be a list');
    // A region labelled by two controls (Brush + Labels) comes as two results with its id: one region.
    const byId = new Map<string, AnnotatedRegion>();
    chosen.result.forEach((r: any, j: number) => {
      const rAt = `${at}.${from}[${k}].result[${j}]`;
      const type = r?.type;
      const isMask = type === 'brushlabels' || type === 'bitmasklabels' || type === 'brush';
      const isLabels = type === 'labels' && r.value?.format === 'rle';
      if (!isMask && !isLabels) return;
      if (isMask && options.fromName !== undefined && r.from_name !== options.fromName) return;
      if (isLabels && options.labelsName !== undefined && r.from_name !== options.labelsName) return;
      const label = [r.value?.brushlabels, r.value?.bitmasklabels, r.value?.labels].find((l) => Array.isArray(l) && typeof l[0] === 'string')?.[0];
      const known = typeof r.id === 'string' ? byId.get(r.id) : undefined;
      if (known) {
        if (label !== undefined) known.label = label;
        return;
      }
      const w = r.original_width;
      const h = r.original_height;
      if (img.width !== null && (w !== img.width || h !== img.height)) {
        throw new InputError(`${rAt}.original_width`, `${w}×${h} differs from the task's earlier results (${img.width}×${img.height})`);
      }
      let mask: BinaryMask;
      if (type === 'bitmasklabels') {
        if (!Number.isSafeInteger(w) || !Number.isSafeInteger(h) || w < 1 || h < 1) throw new InputError(`${rAt}.original_width`, `must give the image size in pixels, got ${w}×${h}`);
        mask = decodeBitmaskDataUrl(r.value?.imageDataURL, w, h, `${rAt}.value.imageDataURL`);
      } else {
        if (r.value?.format !== 'rle' || !Array.isArray(r.value.rle)) throw new InputError(`${rAt}.value`, 'must be {format: "rle", rle: [bytes…]}');
        mask = decodeLabelStudioRle(r.value.rle, w, h, `${rAt}.value.rle`);
      }
      const region: AnnotatedRegion = { mask };
      img.width = w;
      img.height = h;
      if (typeof r.score === 'number') region.score = r.score;
      if (label !== undefined) region.label = label;
      if (typeof r.id === 'string') byId.set(r.id, region);
      img.regions.push(region);
    });
    const verdict = chosen.result.find((r: any) => r?.type === 'choices' && r.from_name === (options.statusName ?? 'status'));
    const choice = verdict?.value?.choices?.[0];
    if (choice === 'normal' || choice === 'defective') img.status = choice;
    return img;
  });
}
