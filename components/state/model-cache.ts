import { fetchBytes, fetchModelFiles, MANIFEST_FILE, type Progress } from '../../src/web.ts';

/**
 * Models from a URL: a checkpoint (.pth / .safetensors) or a model folder's manifest.json (its files are fetched next
 * to it). Every file goes through the Cache API, so a model downloads once per browser; where the page has no Cache
 * API (not a secure context) it downloads every time and says so. Models opened from local files are kept there too,
 * under LOCAL_MODELS and their session's name, so a reload restores either kind through downloadModel.
 */

export const MODEL_CACHE = 'inp-former-models';
/** Path (on the page's origin, which serves nothing there) of kept local model files; only the model in use stays. */
const LOCAL_MODELS = '/local-models/';
const isLocal = (url: string) => { const u = new URL(url); return u.origin === location.origin && u.pathname.startsWith(LOCAL_MODELS); };
/** A session's folder of kept local models: pruning one session's never touches another's (other tabs, other databases). */
const localDir = (session: string) => new URL(`${LOCAL_MODELS}${encodeURIComponent(session)}/`, location.origin).href;

export type DownloadProgress = Extract<Progress, { stage: 'download' }>;
export interface DownloadedModel {
  files: Array<{ name: string; bytes: Uint8Array }>;
  /** Every file came from the cache (no network). */
  cached: boolean;
  /** Why nothing was cached, when it was not (no Cache API, quota). */
  cacheNote?: string;
  /** The URLs read, for forgetModel. */
  urls: string[];
}

interface Fetched { bytes: Uint8Array<ArrayBuffer>; cached: boolean; cacheNote?: string }

async function openCache(): Promise<Cache | string> {
  if (typeof caches === 'undefined') return 'this page has no Cache API (not a secure context), so the model is not cached';
  try {
    return await caches.open(MODEL_CACHE);
  } catch (e) {
    return `the model cache could not be opened (${(e as Error).message})`;
  }
}

async function fetchCached(url: string, cache: Cache | string, signal: AbortSignal | undefined, onBytes: (loaded: number, total: number) => void): Promise<Fetched> {
  const hit = typeof cache === 'string' ? undefined : await cache.match(url);
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    onBytes(bytes.byteLength, bytes.byteLength);
    return { bytes, cached: true };
  }
  if (isLocal(url)) throw new Error(`${decodeURIComponent(url.split('/').pop()!)}: this model came from a local file and is no longer in this browser's cache; open the file again`);
  const bytes = new Uint8Array(await fetchBytes(url, onBytes, signal));
  if (typeof cache === 'string') return { bytes, cached: false, cacheNote: cache };
  try {
    await cache.put(url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) } }));
    return { bytes, cached: false };
  } catch (e) {
    return { bytes, cached: false, cacheNote: `${url} was not cached (${(e as Error).message})` };
  }
}

/** Downloads (or reads from the cache) the model at `url`, resolved against the page's address. */
export async function downloadModel(url: string, o: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void } = {}): Promise<DownloadedModel> {
  let base: URL;
  try {
    base = new URL(url, location.href);
  } catch {
    throw new Error(`"${url}" is not a URL`);
  }
  const cache = await openCache();
  let cached = true;
  let cacheNote: string | undefined;
  const got = await fetchModelFiles(base, {
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: (p: Progress) => { if (p.stage === 'download') o.onProgress!(p); } } : {}),
    get: async (at, onBytes, signal) => {
      const f = await fetchCached(at, cache, signal, onBytes);
      cached &&= f.cached;
      cacheNote ??= f.cacheNote;
      return f.bytes;
    },
  });
  return { ...got, cached, ...(cacheNote ? { cacheNote } : {}) };
}

/** Drops a model's files from the cache: one that failed to load must not come back from it on the next try. */
export async function forgetModel(urls: readonly string[]): Promise<void> {
  const cache = await openCache();
  if (typeof cache !== 'string') await Promise.all(urls.map((u) => cache.delete(u)));
}

/**
 * Keeps a session's local model files in the cache, in a folder of their own; `url` (the manifest's, or the single
 * file's) restores them via downloadModel.
 */
export async function keepLocalModel(session: string, files: Array<{ name: string; bytes: Uint8Array<ArrayBuffer> }>): Promise<{ url?: string; urls: string[]; cacheNote?: string }> {
  const cache = await openCache();
  if (typeof cache === 'string') return { urls: [], cacheNote: `${cache}; a reload will not restore it` };
  const dir = new URL(`${Date.now().toString(36)}/`, localDir(session));
  const urls = files.map((f) => new URL(encodeURIComponent(f.name), dir).href);
  try {
    await Promise.all(files.map((f, i) => cache.put(urls[i], new Response(f.bytes))));
  } catch (e) {
    await forgetModel(urls);
    return { urls: [], cacheNote: `the model was not cached (${(e as Error).message}); a reload will not restore it` };
  }
  const manifest = files.findIndex((f) => f.name === MANIFEST_FILE);
  return { url: urls[Math.max(0, manifest)], urls };
}

/** Once a model is in use: drops the session's kept local models but the one at `inUse` (its folder's files). */
export async function pruneLocalModels(session: string, inUse?: string): Promise<void> {
  const cache = await openCache();
  if (typeof cache === 'string') return;
  const [mine, keep] = [localDir(session), inUse && new URL('.', inUse).href];
  for (const req of await cache.keys()) if (req.url.startsWith(mine) && !(keep && req.url.startsWith(keep))) await cache.delete(req);
}
