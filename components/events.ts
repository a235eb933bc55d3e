import type { Action } from './state/shortcuts.ts';
import type { BinaryMask, EngineName } from '../src/web.ts';

/**
 * Every event our elements dispatch, with its detail type. Events bubble and cross shadow roots (composed), and are
 * fired on user input only, never when a host sets a property.
 */
export type EditTool = 'select' | 'brush' | 'eraser' | 'polygon-add' | 'polygon-subtract';
export type ExportFormat = 'coco' | 'png-masks' | 'labelstudio' | 'cvat' | 'session';
/** A model-panel button; training and fine-tuning carry the number of steps the user set. */
/** 'use-trained': put the last trained model in use although it validated no better than the one in use. */
export type ModelActionDetail = { action: 'fit' } | { action: 'cancel' } | { action: 'use-trained' } | { action: 'train' | 'finetune' | 'refine'; steps: number };
export type ModelAction = ModelActionDetail['action'];

export interface InpEvents {
  /** A keyboard shortcut or a button asked for an action; `key` names a proposal/region, `id` an image. */
  'inp-action': { action: Action; key?: string; id?: string };
  /** A region was clicked on the canvas (null: empty space). */
  'inp-region-select': { key: string | null };
  /** A brush stroke, eraser stroke or polygon finished: the region's new mask (key null: a new drawn region). */
  'inp-mask-edit': { key: string | null; mask: BinaryMask };
  'inp-sensitivity-input': { value: number };
  /** The knob applies to this image only (true) or to the whole session (false). */
  'inp-sensitivity-scope': { imageOnly: boolean };
  'inp-model-action': ModelActionDetail;
  /** Predict with this engine from now on. */
  'inp-model-engine': { engine: EngineName };
  'inp-model-files': { files: File[] };
  /** Load a model from a URL (checkpoint, or a model folder's manifest.json). */
  'inp-model-url': { url: string };
  /** `reviewedOnly`: only the images the annotator marked normal or defective, without pending proposals. */
  'inp-export': { format: ExportFormat; reviewedOnly?: boolean };
  'inp-open-files': { files: File[] };
  'inp-import-session': { file: File };
}

export function emit<K extends keyof InpEvents>(el: HTMLElement, name: K, detail: InpEvents[K]): void {
  el.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
}

declare global {
  interface HTMLElementEventMap {
    'inp-action': CustomEvent<InpEvents['inp-action']>;
    'inp-region-select': CustomEvent<InpEvents['inp-region-select']>;
    'inp-mask-edit': CustomEvent<InpEvents['inp-mask-edit']>;
    'inp-sensitivity-input': CustomEvent<InpEvents['inp-sensitivity-input']>;
    'inp-sensitivity-scope': CustomEvent<InpEvents['inp-sensitivity-scope']>;
    'inp-model-action': CustomEvent<InpEvents['inp-model-action']>;
    'inp-model-engine': CustomEvent<InpEvents['inp-model-engine']>;
    'inp-model-files': CustomEvent<InpEvents['inp-model-files']>;
    'inp-model-url': CustomEvent<InpEvents['inp-model-url']>;
    'inp-export': CustomEvent<InpEvents['inp-export']>;
    'inp-open-files': CustomEvent<InpEvents['inp-open-files']>;
    'inp-import-session': CustomEvent<InpEvents['inp-import-session']>;
  }
}
