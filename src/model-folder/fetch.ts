import { InputError } from '../errors.ts';
import type { Progress } from '../types.ts';
import { MANIFEST_FILE, parseManifest } from './manifest.ts';

/** Reads one URL's bytes, reporting bytes as they arrive (total 0: unknown). A page swaps in a cache-backed one. */
export type FileGetter = (url: string, onBytes: (loaded: number, total: number) => void, signal?: AbortSignal) => Promise<Uint8Array>;

/** Reads a response body in chunks, reporting bytes as they arrive (total from Content-Length, else 0). */
export async function readBody(r: Response, onBytes: (loaded: number, total: number) => void): Promise<Uint8Array<ArrayBuffer>> {
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

/** `fetch` with errors that name the URL and say why (network, HTTP status). */
export const fetchBytes: FileGetter = async (url, onBytes, signal) => {
  let r: Response;
  try {
    r = await fetch(url, signal ? { signal } : {});
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new InputError(url, `could not be downloaded (${(e as Error).message}; offline, or the server does not allow this page)`);
  }
  if (!r.ok) throw new InputError(url, `HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ''}`);
  return readBody(r, onBytes);
};

/**
 * A model at a URL: a checkpoint (.pth / .safetensors), or a model folder (its manifest.json, or the folder's URL
 * ending in /), whose listed files are fetched next to the manifest. Progress is one download event stream; for a
 * folder its total is the manifest's sizes from the start.
 */
export async function fetchModelFiles(url: string | URL, o: { get?: FileGetter; signal?: AbortSignal; onProgress?: (p: Progress) => void } = {}): Promise<{ files: Array<{ name: string; bytes: Uint8Array }>; urls: string[] }> {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new InputError(String(url), 'is not an absolute URL');
  }
  const get = o.get ?? fetchBytes;
  const file = (u: URL) => decodeURIComponent(u.pathname.split('/').pop() || u.hostname);
  const folder = base.pathname.endsWith('/') ? new URL(MANIFEST_FILE, base) : file(base) === MANIFEST_FILE ? base : undefined;
  if (!folder) {
    const name = file(base);
    const bytes = await get(base.href, (loaded, total) => o.onProgress?.({ stage: 'download', file: name, loaded, total }), o.signal);
    return { files: [{ name, bytes }], urls: [base.href] };
  }
  const manifestBytes = await get(folder.href, () => {}, o.signal);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch {
    throw new InputError(folder.href, `is not a model folder's ${MANIFEST_FILE} (not JSON)`);
  }
  const listed = Object.entries(parseManifest(json, folder.href).files);
  const total = listed.reduce((s, [, f]) => s + f.bytes, 0);
  const files = [{ name: MANIFEST_FILE, bytes: manifestBytes }];
  const urls = [folder.href];
  let before = 0;
  for (const [name, entry] of listed) {
    const at = new URL(name, folder).href;
    files.push({ name, bytes: await get(at, (loaded) => o.onProgress?.({ stage: 'download', file: name, loaded: before + loaded, total }), o.signal) });
    urls.push(at);
    before += entry.bytes;
  }
  return { files, urls };
}
