import type http from 'node:http';
import { checkServedPreprocess, DEFAULT_MAX_QUEUE, type ServedModel, type ThresholdChoice } from '../../src/pipeline/served-model.ts';
import { InputError } from '../../src/errors.ts';
import { closeServer, listen, untilSignal } from '../../src/platform/node/http.ts';
import { validatePreprocess } from '../../src/preprocess/preprocess.ts';
import { intFlag, required, UsageError } from './args.ts';
import { loadDetector, startBackend } from './detector-io.ts';
import { configOverrides, CONFIG_FLAGS, REFINE_FLAGS, REFINE_USAGE } from './model-flags.ts';
import { preprocessFromFlags, PREPROCESS_FLAGS } from './predict.ts';
import { calibrateFromFiles, thresholdFromFlags, THRESHOLD_FLAGS } from './threshold-flags.ts';

/** What serve-ls and serve-cvat share: the model with annotate's options, listening, limits. */
export const SERVE_FLAGS = {
  model: { type: 'string', short: 'm' }, port: { type: 'string' }, host: { type: 'string' }, ...THRESHOLD_FLAGS, backend: { type: 'string' },
  'max-body-mb': { type: 'string' }, 'max-pixels': { type: 'string' }, timeout: { type: 'string' }, 'allow-origin': { type: 'string', multiple: true }, 'max-queue': { type: 'string' },
  ...PREPROCESS_FLAGS, ...CONFIG_FLAGS, ...REFINE_FLAGS,
} as const;

export const SERVE_USAGE = '[--host 127.0.0.1] [--threshold-from <normals dir> [--quantile Q] | --threshold X] [--min-area N] [--region-level L|off] [--fill-holes] [--smooth R] '
  + `[--resize N] [--map-size N] [--backend onnx|wasm|cpu|webgpu] [--max-body-mb 32] [--max-pixels 40000000] [--timeout 60] [--max-queue 8] [--allow-origin <web page origin>…] ${REFINE_USAGE}`;

type Values = Record<string, string | boolean | string[] | undefined>;

/** Basic auth from the SDK's variables; both or neither. */
export function basicAuthFromEnv(env: NodeJS.ProcessEnv): { user: string; pass: string } | undefined {
  const user = env.BASIC_AUTH_USER;
  const pass = env.BASIC_AUTH_PASS;
  if (!user && !pass) return undefined;
  if (!user || !pass) throw new UsageError('set both BASIC_AUTH_USER and BASIC_AUTH_PASS, or neither');
  return { user, pass };
}

/** --allow-origin: web pages (scheme://host[:port]) that may call the server from a browser; none by default. */
export function allowedOriginsFromFlags(v: Values): string[] {
  const given = (v['allow-origin'] as string[] | undefined) ?? [];
  for (const o of given) if (!URL.canParse(o) || new URL(o).origin !== o) throw new UsageError(`--allow-origin must be an origin such as http://localhost:8080, got "${o}"`);
  return given;
}


export interface ServeLimits { maxBodyBytes: number; maxPixels: number; requestTimeoutMs: number; maxQueue: number }

export function limitsFromFlags(v: Values): ServeLimits {
  return {
    maxBodyBytes: intFlag(v['max-body-mb'] as string | undefined, 'max-body-mb', 32) * 2 ** 20,
    maxPixels: intFlag(v['max-pixels'] as string | undefined, 'max-pixels', 40_000_000),
    requestTimeoutMs: intFlag(v.timeout as string | undefined, 'timeout', 60) * 1000,
    maxQueue: intFlag(v['max-queue'] as string | undefined, 'max-queue', DEFAULT_MAX_QUEUE, 0),
  };
}

export interface LoadedServedModel { model: ServedModel; modelPath: string; normalsFiles?: string[]; quantile?: number }

/**
 * -m and annotate's options → a served model. The protocol defaults to `annotate` (masks at the image's natural
 * size, what Label Studio and CVAT need); the threshold is --threshold-from normals, --threshold X, or the saved
 * calibration, exactly as `annotate` chooses it.
 */
export async function loadServedModel(v: Values): Promise<LoadedServedModel> {
  const modelPath = required(v.model as string | undefined, 'model (-m)');
  const { manual, quantile, normals: normalsFiles, options } = await thresholdFromFlags(v);
  const backend = await startBackend(v.backend as string | undefined, 'serve');
  const { detector, name, calibration: saved } = await loadDetector(modelPath, configOverrides(v), { onnx: backend.onnx, raw: !!v['no-refine'] });
  try {
    const preprocess = preprocessFromFlags(v, { ...detector.preprocess, protocol: 'annotate' });
    checkServedPreprocess(preprocess);
    validatePreprocess(preprocess, detector.inputMultiple > 1 ? detector.inputMultiple : undefined);
    let threshold: ThresholdChoice;
    if (normalsFiles) {
      threshold = { kind: 'calibration', calibration: await calibrateFromFiles(detector, normalsFiles, preprocess, quantile, 'serve') };
    } else if (manual !== undefined) {
      threshold = { kind: 'manual', pixelThreshold: manual };
    } else if (saved) {
      threshold = { kind: 'calibration', calibration: saved };
    } else {
      throw new InputError(modelPath, 'has no saved calibration: give --threshold X (raw map units, as predict --save-maps writes) or --threshold-from <normal images>');
    }
    return { model: { detector, version: name, preprocess, threshold, options }, modelPath, ...(normalsFiles ? { normalsFiles } : {}), ...(quantile !== undefined ? { quantile } : {}) };
  } catch (e) {
    detector.dispose();
    throw e;
  }
}

/** Listens until SIGINT/SIGTERM, then closes the server; the command then returns and the CLI exits 0. */
export async function serveUntilStopped(server: http.Server, v: Values, defaultPort: number, label: string): Promise<void> {
  const port = intFlag(v.port as string | undefined, 'port', defaultPort, 0);
  const host = (v.host as string | undefined) ?? '127.0.0.1';
  const at = await listen(server, port, host);
  console.error(`${label}: listening on ${at.url} (Ctrl-C to stop)`);
  const signal = await untilSignal();
  console.error(`${label}: ${signal}, closing`);
  await closeServer(server);
}
