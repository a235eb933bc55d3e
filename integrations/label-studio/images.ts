import { decodeDataUri } from '../../src/io/base64.ts';
import { HttpError } from '../../src/platform/node/http.ts';

/**
 * Task images as the Label Studio ML SDK fetches them: `data:` URIs inline; Label Studio paths (/data/upload/…, also
 * written `upload/…`; /storage-data/uploaded/?filepath=…; /data/local-files/?d=…) and absolute URLs on
 * LABEL_STUDIO_URL's own origin, authorised as the SDK does (labelStudioAuth); cloud storage URIs (s3://, gs://,
 * azure-blob://) through Label Studio's presign endpoint for the task, whose redirect to the storage is followed
 * without the token.
 * Any other host is refused before it is contacted: the API key must never leave for another server, and the
 * backend must not become a proxy into the network it runs in.
 */
export interface ImageSource {
  /** LABEL_STUDIO_URL, e.g. http://localhost:8080 (a path prefix is kept). */
  labelStudioUrl?: string;
  /** LABEL_STUDIO_API_KEY: a legacy token or a Personal Access Token. */
  apiKey?: string;
  /** Built from apiKey on first use and kept (a PAT's access token is reused until it expires). */
  auth?: LabelStudioAuth;
  timeoutMs: number;
  maxBytes: number;
}

const MAX_REDIRECTS = 3;

/** Cloud storage URIs Label Studio resolves through its presign endpoint (s3, gs, azure-blob; the SDK's list). */
const CLOUD_SCHEMES = ['s3', 'gs', 'azure-blob', 'azure'];

/**
 * The URL a task's image reference points at, or an error saying why it will not be fetched. A cloud URI becomes
 * Label Studio's presign endpoint for the task, as the SDK builds it (the URI url-safe base64 encoded, which Label
 * Studio decodes first): it answers with the bytes, or a 303 to a presigned URL on the storage's own host.
 */
export function resolveImageUrl(ref: string, src: ImageSource, where: string, taskId?: unknown): URL {
  const ls = src.labelStudioUrl;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(ref)?.[1]?.toLowerCase();
  const cloud = !!scheme && CLOUD_SCHEMES.includes(scheme);
  if (scheme && scheme !== 'http' && scheme !== 'https' && !cloud) {
    throw new HttpError(400, `${where}: "${scheme}:" URLs are not fetched; give an http(s) Label Studio URL, a cloud storage URI (${CLOUD_SCHEMES.join(', ')}) or a data: URI`);
  }
  if (!ls) throw new HttpError(400, `${where}: "${ref}" is a Label Studio URL, but LABEL_STUDIO_URL is not set: start the backend with LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY`);
  if (cloud) {
    if (!(typeof taskId === 'number' || (typeof taskId === 'string' && /^\d+$/.test(taskId)))) {
      throw new HttpError(400, `${where}: "${ref}" is a cloud storage URI: Label Studio presigns it per task, and this task has no id`);
    }
    return new URL(`${ls.replace(/\/+$/, '')}/tasks/${taskId}/presign/?fileuri=${Buffer.from(ref, 'utf8').toString('base64url')}`);
  }
  const base = new URL(ls);
  // Uploads appear as /data/upload/…, and in older tasks and exports as upload/… or /upload/… (served at /data/upload/).
  const path = ref.replace(/^\/+/, '').replace(/^upload\//, 'data/upload/');
  const url = scheme ? new URL(ref) : new URL(`${ls.replace(/\/+$/, '')}/${path}`);
  if (url.origin !== base.origin) {
    throw new HttpError(403, `${where}: refusing to fetch ${url.origin}: only images on LABEL_STUDIO_URL (${base.origin}) or inline data: URIs are fetched`);
  }
  return url;
}

/** The bytes of a task's image (`where` names the task and field in every error). */
export async function fetchTaskImage(ref: unknown, src: ImageSource, where: string, taskId?: unknown): Promise<Uint8Array> {
  if (typeof ref !== 'string' || !ref) throw new HttpError(400, `${where}: must be the image URL (a non-empty string), got ${JSON.stringify(ref)}`);
  if (/^data:/i.test(ref)) return checkSize(decodeDataUri(ref, where), src.maxBytes, where);
  let url = resolveImageUrl(ref, src, where, taskId);
  // Only Label Studio's presign answer may lead off its origin: to the storage's presigned URL, without the token.
  let presigned = url.pathname.endsWith('/presign/');
  let offOrigin = false;
  if (src.apiKey && src.labelStudioUrl) src.auth ??= labelStudioAuth(src.labelStudioUrl, src.apiKey, src.timeoutMs);
  const signal = AbortSignal.timeout(src.timeoutMs);
  let retried = false;
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      // Redirects are followed by hand, so each hop gets the same-origin check before the token goes with it.
      const authorization = offOrigin ? undefined : await src.auth?.header(where);
      res = await fetch(url, { headers: authorization ? { authorization } : {}, redirect: 'manual', signal });
    } catch (e) {
      const err = e as Error;
      if (err.name === 'TimeoutError') throw new HttpError(504, `${where}: ${url.href} did not answer within ${src.timeoutMs} ms`);
      throw new HttpError(422, `${where}: cannot fetch ${url.href} (${(err.cause as Error | undefined)?.message ?? err.message})`);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new HttpError(422, `${where}: more than ${MAX_REDIRECTS} redirects from ${ref}`);
      const next = new URL(location, url);
      if (presigned && (next.protocol === 'https:' || next.protocol === 'http:')) {
        // Label Studio's presigned storage URL: followed once, with no Label Studio token.
        presigned = false;
        offOrigin = next.origin !== new URL(src.labelStudioUrl!).origin;
        url = next;
        continue;
      }
      url = offOrigin ? sameOrigin(next, url, where) : resolveImageUrl(next.href, src, `${where} (redirected)`);
      continue;
    }
    // An access token can expire between two requests: swap the PAT for a new one once, then ask again.
    if (res.status === 401 && src.auth?.kind === 'pat' && !retried && !offOrigin) {
      await res.body?.cancel();
      retried = true;
      src.auth.expire();
      hop--;
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

/** A presigned URL may redirect within its storage host only. */
function sameOrigin(next: URL, from: URL, where: string): URL {
  if (next.origin !== from.origin) throw new HttpError(403, `${where}: the presigned storage URL redirected to ${next.origin}: not followed`);
  return next;
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

/**
 * Label Studio's API keys as its SDK uses them: a legacy token goes as `Authorization: Token <key>`; a Personal
 * Access Token is a JWT refresh token, swapped at /api/token/refresh/ for a short-lived access token that goes as
 * `Authorization: Bearer <access>`, swapped again shortly before it expires or when Label Studio answers 401.
 */
export interface LabelStudioAuth {
  readonly kind: 'legacy' | 'pat';
  header(where: string): Promise<string>;
  /** Forget the access token (Label Studio refused it): the next header swaps the PAT again. */
  expire(): void;
}

/** The `exp` (seconds) of a JWT, or undefined when `token` is not a JWT. */
function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp : Number.POSITIVE_INFINITY;
  } catch {
    return undefined;
  }
}

export function labelStudioAuth(labelStudioUrl: string, apiKey: string, timeoutMs: number): LabelStudioAuth {
  if (jwtExpiry(apiKey) === undefined) return { kind: 'legacy', header: async () => `Token ${apiKey}`, expire: () => {} };
  let access: { token: string; exp: number } | undefined;
  /** One swap at a time: concurrent requests wait for the same one. */
  let swapping: Promise<{ token: string; exp: number }> | undefined;
  const refreshUrl = `${labelStudioUrl.replace(/\/+$/, '')}/api/token/refresh/`;
  const swap = async (where: string) => {
    let res: Response;
    try {
      res = await fetch(refreshUrl, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: apiKey }), signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new HttpError(422, `${where}: cannot reach ${refreshUrl} to swap the Personal Access Token (${(e as Error).message})`);
    }
    const body = (await res.json().catch(() => ({}))) as { access?: unknown };
    if (!res.ok || typeof body.access !== 'string') {
      throw new HttpError(422, `${where}: Label Studio refused the Personal Access Token at ${refreshUrl} (${res.status}): check LABEL_STUDIO_API_KEY (revoked or expired?)`);
    }
    return { token: body.access, exp: jwtExpiry(body.access) ?? 0 };
  };
  return {
    kind: 'pat',
    expire: () => { access = undefined; },
    async header(where) {
      // 30 s of margin: a token that expires in flight is as good as expired.
      if (!access || access.exp * 1000 < Date.now() + 30_000) {
        swapping ??= swap(where).finally(() => { swapping = undefined; });
        access = await swapping;
      }
      return `Bearer ${access.token}`;
    },
  };
}
