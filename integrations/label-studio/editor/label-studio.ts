// The Label Studio frontend from npm, loaded as its own UMD bundle and stylesheet (same-origin assets, so the page
// stays cross-origin isolated); it defines window.LabelStudio. Vite serves and copies both files from node_modules.
import lsCss from '@heartexlabs/label-studio/build/static/css/main.css?url';
import lsJs from '@heartexlabs/label-studio/build/static/js/main.js?url';
import type { LabelStudioResult } from '../../../src/export/labelstudio-tasks.ts';

/** The parts of Label Studio's MobX-state-tree store this page uses (src/stores/Annotation in the frontend). */
export interface LsAnnotation {
  id: string;
  suggestions: Map<string, unknown> & { size: number };
  areas: Map<string, unknown> & { size: number };
  setSuggestions(results: LabelStudioResult[]): void;
  serializeAnnotation(): Array<{ type: string; value: { rle?: number[] }; original_width: number; original_height: number }>;
}
export interface LsStore {
  annotationStore: {
    addAnnotation(o: { userGenerate: boolean }): LsAnnotation;
    selectAnnotation(id: string): void;
    selected: LsAnnotation;
  };
}
export interface LsTask { id: number; data: Record<string, string>; annotations: unknown[]; predictions: unknown[] }
export interface LsOptions {
  config: string;
  task: LsTask;
  interfaces: string[];
  user: { pk: number; firstName: string; lastName: string };
  onStorageInitialized(ls: LsStore): void;
  onSubmitAnnotation(ls: LsStore, annotation: LsAnnotation): void;
  onUpdateAnnotation(ls: LsStore, annotation: LsAnnotation): void;
}
type LabelStudioClass = new (root: HTMLElement, options: LsOptions) => { destroy(): void };

declare global {
  interface Window { LabelStudio?: LabelStudioClass }
}

let loading: Promise<LabelStudioClass> | undefined;

/** Loads the bundle and its CSS once; rejects with a message naming the file when either does not load. */
export function loadLabelStudio(): Promise<LabelStudioClass> {
  loading ??= new Promise<LabelStudioClass>((resolve, reject) => {
    const link = Object.assign(document.createElement('link'), { rel: 'stylesheet', href: lsCss });
    document.head.append(link);
    const script = Object.assign(document.createElement('script'), { src: lsJs, async: true });
    script.onload = () => (window.LabelStudio ? resolve(window.LabelStudio) : reject(new Error(`${lsJs} loaded but defined no window.LabelStudio`)));
    script.onerror = () => reject(new Error(`the Label Studio frontend (${lsJs}) could not be loaded: is @heartexlabs/label-studio installed?`));
    document.head.append(script);
  });
  return loading;
}
