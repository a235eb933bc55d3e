import { decodeDataUri } from '../../src/io/base64.ts';
import { HttpError } from '../../src/platform/node/http.ts';

/**
 * Task images as the Label Studio ML SDK fetches them: `data:` URIs inline; Label Studio paths (/data/upload/…,
 * /data/local-files/?d=…) and absolute URLs on LABEL_STUDIO_URL's own origin with `Authorization: Token <key>`.
 * Any other host is refused before it is contacted: the API key must never leave for another server, and the
 * backend must not become a proxy into the network it runs in.
 */
export interface ImageSource {
  /** LABEL_STUDIO_URL, e.g. http://localhost:8080 (a path prefix is kept). */
  labelStudioUrl?: string;
  /** LABEL_STUDIO_API_KEY. */
  apiKey?: string;
  timeoutMs: number;
  maxBytes: number;
}

const MAX_REDIRECTS = 3;

/** The URL a task's image reference points at, or an error saying why it will not be fetched. */
export function resolveImageUrl(ref: string, src: ImageSource, where: string): URL {
  const ls = src.labelStudioUrl;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(ref)?.[1]?.toLowerCase();
  if (scheme && scheme !== 'http' && scheme !== 'https') {
    throw new HttpError(400, `${where}: "${scheme}:" URLs are not fetched; let Label Studio serve the image (cloud storage with proxy/presign) or send a data: URI`);
  }
  if (!ls) throw new HttpError(400, `${where}: "${ref}" is a Label Studio URL, but LABEL_STUDIO_URL is not set: start the backend with LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY`);
  const base = new URL(ls);
  const url = scheme ? new URL(ref) : new URL(`${ls.replace(/\/+$/, '')}/${ref.replace(/^\/+/, '')}`);
  if (url.origin !== base.origin) {
    throw new HttpError(403, `${where}: refusing to fetch ${url.origin}: only images on LABEL_STUDIO_URL (${base.origin}) or inline data: URIs are fetched`);
  }
  return url;
}

/** The bytes of a task's image (`where` names the task and field in every error). */
export async function fetchTaskImage(ref: unknown, src: ImageSource, where: string): Promise<Uint8Array> {
  if (typeof ref !== 'string' || !ref) throw new HttpError(400, `${where}: must be the image URL (a non-empty string), got ${JSON.stringify(ref)}`);
  if (/^data:/i.test(ref)) return checkSize(decodeDataUri(ref, where), src.maxBytes, where);
  let url = resolveImageUrl(ref, src, where);
  const headers: Record<string, string> = src.apiKey ? { authorization: `Token ${src.apiKey}` } : {};
  const signal = AbortSignal.timeout(src.timeoutMs);
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      // Redirects are followed by hand, so each hop gets the same-origin check before the token goes with it.
      res = await fetch(url, { headers, redirect: 'manual', signal });
    } catch (e) {
      const err = e as Error;
      if (err.name === 'TimeoutError') throw new HttpError(504, `${where}: ${url.href} did not answer within ${src.timeoutMs} ms`);
      throw new HttpError(422, `${where}: cannot fetch ${url.href} (${(err.cause as Error | undefined)?.message ?? err.message})`);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new HttpError(422, `${where}: more than ${MAX_REDIRECTS} redirects from ${ref}`);
      url = resolveImageUrl(new URL(location, url).href, src, `${where} (redirected)`);
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      const hint = res.status === 401 || res.status === 403 ? ': check LABEL_STUDIO_API_KEY' : '';
      throw new HttpError(422, `${where}: Label Studio answered ${res.status} ${res.statusText} for ${url.href}${hint}`);
    }
    return checkSize(await readLimited(res, src.maxBytes, where), src.maxBytes, where);
  }
}

async function readLimited(res: Response, limit: number, where: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > limit) { await res.body?.cancel(); tooBig(declared, limit, where); }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of res.body ?? []) {
    size += c.length;
    if (size > limit) tooBig(size, limit, where);
    chunks.push(c);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function checkSize(b: Uint8Array, limit: number, where: string): Uint8Array {
  if (b.length > limit) tooBig(b.length, limit, where);
  return b;
}

function tooBig(n: number, limit: number, where: string): never {
  throw new HttpError(413, `${where}: image is ${n > limit ? `over ${limit}` : n} bytes; the limit is ${limit} bytes`);
}
