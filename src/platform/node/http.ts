import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InputError } from '../../errors.ts';
import { decodeImage } from '../../image/decode.ts';
import { imageDimensions } from '../../image/dimensions.ts';
import type { RgbImage } from '../../types.ts';

/**
 * The small JSON-over-HTTP layer both annotation servers (Label Studio ML backend, CVAT detector) stand on:
 * routing, a body-size limit enforced while reading, request timeouts, optional basic auth, and errors as
 * `{"error": message}` with a fitting status, so one bad request never takes the server down.
 */

/** An error with the HTTP status it answers with. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

/** An error as the servers answer it: HttpError its own status, InputError (bad input named) 400, others 500. */
export function errorReply(e: unknown): { status: number; body: { error: string } } {
  const status = e instanceof HttpError ? e.status : e instanceof InputError ? 400 : 500;
  return { status, body: { error: (e as Error).message } };
}

/** `signal` aborts when the client goes away before the answer (a queued job for it is then skipped). */
export interface JsonRequest { method: string; path: string; query: URLSearchParams; headers: http.IncomingHttpHeaders; body: unknown; signal: AbortSignal }
export interface JsonReply { status?: number; body: unknown }
export type JsonHandler = (req: JsonRequest) => JsonReply | Promise<JsonReply>;

export interface JsonServerOptions {
  /** "METHOD /path" → handler; POST bodies arrive parsed (malformed JSON is a 400 before any handler runs). */
  routes: Record<string, JsonHandler>;
  maxBodyBytes: number;
  /** Time allowed to receive a whole request (headers and body); Node answers 408 after it. */
  requestTimeoutMs: number;
  basicAuth?: { user: string; pass: string };
  /**
   * Web pages allowed to call the server from a browser (their Origin, e.g. http://localhost:8080); requests from
   * any other page are refused (403). Label Studio and CVAT call from their servers, which send no Origin.
   */
  allowedOrigins?: readonly string[];
  /** One line per failed request (5xx with stack in the message); default console.error. */
  log?: (line: string) => void;
}

export function createJsonServer(o: JsonServerOptions): http.Server {
  const log = o.log ?? ((l: string) => console.error(l));
  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      const reply = errorReply(e);
      if (reply.status >= 500) log(`${req.method} ${req.url}: ${reply.status} ${(e as Error).stack ?? reply.body.error}`);
      send(res, reply.status, reply.body, reply.status === 401 ? { 'www-authenticate': 'Basic realm="inp-former", charset="UTF-8"' } : {});
    });
  });
  server.requestTimeout = o.requestTimeoutMs;
  server.headersTimeout = Math.min(o.requestTimeoutMs, 60_000);
  // Node's 5 s idle keep-alive races clients reusing a pooled socket just as the server closes it (ECONNRESET on a
  // busy machine, seen in the serve-ls test); a long idle timeout leaves closing idle sockets to the client.
  server.keepAliveTimeout = 65_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    checkCaller(req, o.allowedOrigins ?? []);
    if (o.basicAuth) checkBasicAuth(req.headers.authorization, o.basicAuth);
    const handler = o.routes[`${method} ${path}`];
    if (!handler) {
      const allowed = Object.keys(o.routes).filter((k) => k.endsWith(` ${path}`)).map((k) => k.split(' ')[0]);
      if (allowed.length) throw new HttpError(405, `${method} is not allowed on ${path} (use ${allowed.join(' or ')})`);
      throw new HttpError(404, `no such endpoint: ${method} ${path} (endpoints: ${Object.keys(o.routes).join(', ')})`);
    }
    const body = method === 'GET' || method === 'HEAD' ? undefined : parseJson(await readBody(req, o.maxBodyBytes));
    const gone = new AbortController();
    res.once('close', () => { if (!res.writableFinished) gone.abort(new HttpError(499, 'the client closed the connection')); });
    const reply = await handler({ method, path, query: url.searchParams, headers: req.headers, body, signal: gone.signal });
    send(res, reply.status ?? 200, reply.body);
  }
  return server;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Reads the body, refusing (413) as soon as it is known to exceed the limit: by Content-Length, or while streaming. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  return new Promise((resolve, reject) => {
    const tooBig = (n: number) => {
      // Drain the rest without keeping it, so the client reads our answer instead of a reset connection.
      req.removeAllListeners('data');
      req.resume();
      reject(new HttpError(413, `request body is ${n > limit && Number.isFinite(n) ? `${n} bytes` : 'larger than the limit'}; the limit is ${limit} bytes`));
    };
    if (declared > limit) { tooBig(declared); return; }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooBig(Infinity);
      else chunks.push(c);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', (e) => reject(new HttpError(400, `request body could not be read (${e.message})`)));
  });
}

/** Deeper JSON than any request of ours or Label Studio's needs; deeper would overflow the stack of what walks it. */
const MAX_JSON_DEPTH = 64;

/** The deepest nesting of brackets in JSON text (strings skipped): a linear scan, before JSON.parse builds anything. */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) { if (++depth > max) max = depth; } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function parseJson(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new HttpError(400, 'request body is empty: expected JSON');
  const text = Buffer.from(bytes).toString('utf8');
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new HttpError(400, `request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `request body is not valid JSON (${(e as Error).message})`);
  }
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;

/**
 * What a web page could otherwise do to a server on this machine: POST a `text/plain` "simple request" (no CORS
 * preflight) to /predict or /webhook, or reach a loopback server through DNS rebinding. Refused here: bodies must
 * be declared JSON (415), a browser's Origin must be allowed (403), and a server bound to loopback answers only
 * Host names that are loopback (421).
 */
function checkCaller(req: http.IncomingMessage, allowedOrigins: readonly string[]): void {
  const local = req.socket.localAddress ?? '';
  const host = req.headers.host ?? '';
  if ((local === '::1' || local.startsWith('127.') || local === '::ffff:127.0.0.1') && !LOOPBACK.test(host)) {
    throw new HttpError(421, `Host "${host}" is not this server's: it listens on loopback only (a page using DNS rebinding would send its own name)`);
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !allowedOrigins.includes(origin)) {
    throw new HttpError(403, `requests from web pages are refused (Origin ${origin}); allow one with --allow-origin`);
  }
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD' && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    throw new HttpError(415, `request body must be sent as application/json (got ${JSON.stringify(req.headers['content-type'] ?? 'none')})`);
  }
}

/** HTTP basic auth as the Label Studio ML SDK checks it (BASIC_AUTH_USER / BASIC_AUTH_PASS), in constant time. */
function checkBasicAuth(header: string | undefined, want: { user: string; pass: string }): void {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) throw new HttpError(401, 'authentication required: send HTTP basic auth credentials');
  const given = Buffer.from(m[1], 'base64');
  const expected = Buffer.from(`${want.user}:${want.pass}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HttpError(401, 'wrong basic auth user name or password');
}

/** Starts listening; resolves with the bound address (port 0 picks a free port). */
export function listen(server: http.Server, port: number, host: string): Promise<{ host: string; port: number; url: string }> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new InputError(`${host}:${port}`, `cannot listen (${e.code ?? e.message})`)));
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({ host: a.address, port: a.port, url: `http://${h}:${a.port}` });
    });
  });
}

/** Stops accepting, ends idle keep-alive connections, and resolves once every connection is closed. */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** Resolves on SIGINT or SIGTERM, so a serve command returns (and main() exits 0) when stopped. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (s: string) => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(s); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Decodes an uploaded image, refusing (413) one over `maxPixels` from its header, before it is decoded. */
export function decodeUpload(bytes: Uint8Array, where: string, maxPixels: number): RgbImage {
  const d = imageDimensions(bytes);
  if (d && d.width * d.height > maxPixels) {
    throw new HttpError(413, `${where}: image is ${d.width}×${d.height} (${d.width * d.height} pixels); the limit is ${maxPixels} pixels`);
  }
  return decodeImage(bytes, where);
}
