import type { TrainedModel } from '../../src/web.ts';
import type { RawResult } from './review.ts';
import type { ImageEntry, SessionSettings } from './session.ts';

/**
 * The session in IndexedDB, written as each decision is made (one small transaction per change), so a reload or a
 * crash loses nothing. Stores: entries (decisions), files (the user's image bytes), results (raw maps, so a reload
 * needs no model run), meta (image order, settings, a head trained here). Browser only.
 */
export interface SessionStore {
  /** `order` is undefined for a database never written (a first visit), [] for a session emptied on purpose. */
  load(): Promise<{ order: string[] | undefined; entries: Map<string, ImageEntry>; settings?: SessionSettings; results: Map<string, RawResult>; model?: SavedModel }>;
  putEntry(e: ImageEntry): Promise<void>;
  putOrder(order: readonly string[]): Promise<void>;
  putSettings(s: SessionSettings): Promise<void>;
  /**
   * The model in use changed: the settings (their modelUrl) and the trained head (or none) in one transaction, so
   * a crash or a full disk leaves the previous model and its pointer as they were.
   */
  putModel(s: SessionSettings, model: SavedModel | undefined): Promise<void>;
  putFile(id: string, bytes: Uint8Array): Promise<void>;
  getFile(id: string): Promise<Uint8Array | undefined>;
  putResult(id: string, r: RawResult): Promise<void>;
  /** Removes images (entry, file bytes, result) and saves the new order, in one transaction. */
  removeImages(ids: readonly string[], order: readonly string[]): Promise<void>;
  /** Forget every raw result (the model changed, so the maps are stale). */
  clearResults(): Promise<void>;
  /** Remove everything (a session import replaces the session). */
  clear(): Promise<void>;
  close(): void;
}

/**
 * A head trained here, saved whole with its session (the model folder, a few MB without the nsfwjs encoder) and the
 * normals it was trained on. IndexedDB rather than the model download's Cache API: it commits the head together with
 * the settings in one transaction, and it lives and is cleared with the session's own database.
 */
export interface SavedModel extends TrainedModel { trainedOn: string[] }

const STORES = ['entries', 'files', 'results', 'meta'] as const;
/** Key of the trained head in `meta`. */
const MODEL_KEY = 'model';
type StoreName = (typeof STORES)[number];

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

export async function openSessionStore(name = 'inp-workspace'): Promise<SessionStore> {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => { for (const s of STORES) open.result.createObjectStore(s); };
  const db = await req(open);
  const tx = <T>(store: StoreName, mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> => {
    const t = db.transaction(store, mode);
    const r = f(t.objectStore(store));
    // Resolve on commit, not on the request, so "saved" means durable.
    return new Promise((resolve, reject) => {
      t.oncomplete = () => resolve(r.result);
      t.onerror = () => reject(t.error ?? r.error);
      t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted'));
    });
  };
  const all = async <T>(store: StoreName): Promise<Map<string, T>> => {
    const t = db.transaction(store, 'readonly').objectStore(store);
    const [keys, values] = await Promise.all([req(t.getAllKeys()), req(t.getAll())]);
    return new Map(keys.map((k, i) => [String(k), values[i] as T]));
  };
  return {
    async load() {
      const [entries, results, meta] = await Promise.all([all<ImageEntry>('entries'), all<RawResult>('results'), all<unknown>('meta')]);
      return {
        entries, results, order: meta.get('order') as string[] | undefined, settings: meta.get('settings') as SessionSettings | undefined,
        model: meta.get(MODEL_KEY) as SavedModel | undefined,
      };
    },
    putEntry: async (e) => { await tx('entries', 'readwrite', (s) => s.put(e, e.id)); },
    putOrder: async (o) => { await tx('meta', 'readwrite', (s) => s.put([...o], 'order')); },
    putSettings: async (v) => { await tx('meta', 'readwrite', (s) => s.put(v, 'settings')); },
    putModel: async (v, model) => {
      await tx('meta', 'readwrite', (s) => {
        if (model) s.put(model, MODEL_KEY);
        else s.delete(MODEL_KEY);
        return s.put(v, 'settings');
      });
    },
    putFile: async (id, b) => { await tx('files', 'readwrite', (s) => s.put(b, id)); },
    getFile: (id) => tx('files', 'readonly', (s) => s.get(id) as IDBRequest<Uint8Array | undefined>),
    putResult: async (id, r) => { await tx('results', 'readwrite', (s) => s.put(r, id)); },
    async removeImages(ids, order) {
      const t = db.transaction(['entries', 'files', 'results', 'meta'], 'readwrite');
      for (const id of ids) for (const s of ['entries', 'files', 'results'] as const) t.objectStore(s).delete(id);
      t.objectStore('meta').put([...order], 'order');
      await new Promise<void>((resolve, reject) => { t.oncomplete = () => resolve(); t.onerror = () => reject(t.error); });
    },
    clearResults: async () => { await tx('results', 'readwrite', (s) => s.clear()); },
    async clear() {
      const t = db.transaction([...STORES], 'readwrite');
      for (const s of STORES) t.objectStore(s).clear();
      await new Promise<void>((resolve, reject) => { t.oncomplete = () => resolve(); t.onerror = () => reject(t.error); });
    },
    close: () => db.close(),
  };
}
