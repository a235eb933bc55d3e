import { MANIFEST_FILE, parseManifest, type Progress } from '../../src/web.ts';

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

/** Reads a response body in chunks, reporting bytes as they arrive (total from Content-Length, else 0). */
async function readBody(r: Response, onBytes: (loaded: number, total: number) => void): Promise<Uint8Array<ArrayBuffer>> {
  const total = Number(r.headers.get('content-length') ?? 0);
  if (!r.body) return new Uint8Array(await r.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = r.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    // A compressed response's Content-Length counts encoded bytes: past it, the size is unknown.
    onBytes(loaded, loaded <= total ? total : 0);
  }
  const out = new Uint8Array(new ArrayBuffer(loaded));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}

async function fetchCached(url: string, cache: Cache | string, signal: AbortSignal | undefined, onBytes: (loaded: number, total: number) => void): Promise<Fetched> {
  const hit = typeof cache === 'string' ? undefined : await cache.match(url);
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    onBytes(bytes.byteLength, bytes.byteLength);
    return { bytes, cached: true };
  }
  if (isLocal(url)) throw new Error(`${decodeURIComponent(url.split('/').pop()!)}: this model came from a local file and is no longer in this browser's cache; open the file again`);
  let r: Response;
  try {
    r = await fetch(url, { signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new Error(`${url}: could not be downloaded (${(e as Error).message}; offline, or the server does not allow this page)`);
  }
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ''}`);
  const bytes = await readBody(r, onBytes);
  if (typeof cache === 'string') return { bytes, cached: false, cacheNote: cache };
  try {
    await cache.put(url, new Response(bytes, { headers: { 'content-type': r.headers.get('content-type') ?? 'application/octet-stream', 'content-length': String(bytes.byteLength) } }));
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
  const file = (u: URL) => decodeURIComponent(u.pathname.split('/').pop() || u.hostname);
  const folder = base.pathname.endsWith('/') ? new URL(MANIFEST_FILE, base) : file(base) === MANIFEST_FILE ? base : undefined;
  if (!folder) {
    const name = file(base);
    const got = await fetchCached(base.href, cache, o.signal, (loaded, total) => o.onProgress?.({ stage: 'download', file: name, loaded, total }));
    return { files: [{ name, bytes: got.bytes }], cached: got.cached, cacheNote: got.cacheNote, urls: [base.href] };
  }
  // A model folder: the manifest lists every file with its size, so progress has a total from the start.
  const m = await fetchCached(folder.href, cache, o.signal, () => {});
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(m.bytes));
  } catch {
    throw new Error(`${folder.href}: is not a model folder's ${MANIFEST_FILE} (not JSON)`);
  }
  const manifest = parseManifest(json, folder.href);
  const listed = Object.entries(manifest.files);
  const total = listed.reduce((s, [, f]) => s + f.bytes, 0);
  const files = [{ name: MANIFEST_FILE, bytes: m.bytes }];
  const urls = [folder.href];
  let before = 0;
  let cached = m.cached;
  let cacheNote = m.cacheNote;
  for (const [name, entry] of listed) {
    const at = new URL(name, folder).href;
    const got = await fetchCached(at, cache, o.signal, (loaded) => o.onProgress?.({ stage: 'download', file: name, loaded: before + loaded, total }));
    files.push({ name, bytes: got.bytes });
    urls.push(at);
    before += entry.bytes;
    cached &&= got.cached;
    cacheNote ??= got.cacheNote;
  }
  return { files, cached, cacheNote, urls };
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
