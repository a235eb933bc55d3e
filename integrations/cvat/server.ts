import type http from 'node:http';
import { createJsonServer } from '../../src/platform/node/http.ts';
import type { CvatShape } from './handler.ts';

/**
 * The detector function as a plain HTTP service (what Nuclio's HTTP trigger does): POST / with CVAT's body;
 * GET / describes the function (its labels and how the threshold maps).
 */
export interface CvatServerOptions {
  detect: (body: unknown, signal?: AbortSignal) => Promise<CvatShape[]>;
  info: { name: string; labels: string[]; model_version: string };
  maxBodyBytes: number;
  requestTimeoutMs: number;
  basicAuth?: { user: string; pass: string };
  allowedOrigins?: readonly string[];
  log?: (line: string) => void;
}

export const THRESHOLD_NOTE = 'threshold is a 0–1 confidence on the anomalib-normalised score: 0.5 = the model\'s calibrated threshold, higher proposes fewer regions; each shape\'s confidence is its region\'s max normalised score';

export function createCvatServer(o: CvatServerOptions): http.Server {
  return createJsonServer({
    maxBodyBytes: o.maxBodyBytes, requestTimeoutMs: o.requestTimeoutMs, ...(o.log ? { log: o.log } : {}),
    ...(o.basicAuth ? { basicAuth: o.basicAuth } : {}), ...(o.allowedOrigins ? { allowedOrigins: o.allowedOrigins } : {}),
    routes: {
      'GET /': () => ({ body: { ...o.info, type: 'detector', threshold: THRESHOLD_NOTE } }),
      'POST /': async (req) => ({ body: await o.detect(req.body, req.signal) }),
    },
  });
}
