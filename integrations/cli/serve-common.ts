import type http from 'node:http';
import { imageMap } from '../../src/annotate/image-map.ts';
import type { ProposalOptions } from '../../src/annotate/proposals.ts';
import { checkServedPreprocess, type ServedModel, type ThresholdChoice } from '../../src/annotate/served-model.ts';
import { InputError } from '../../src/errors.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { closeServer, listen, untilSignal } from '../../src/platform/node-http.ts';
import { validatePreprocess } from '../../src/preprocess/preprocess.ts';
import { useBackend } from '../../src/runtime/backend.ts';
import { calibrateFromNormals } from '../../src/threshold/strategies.ts';
import { choice, intFlag, numFlag, required, UsageError } from './args.ts';
import { loadDetector } from './detector-io.ts';
import { collectImages, readInput } from './images.ts';
import { configOverrides, CONFIG_FLAGS } from './model-flags.ts';
import { preprocessFromFlags, PREPROCESS_FLAGS } from './predict.ts';

/** What serve-ls and serve-cvat share: the model with annotate's options, listening, limits. */
export const SERVE_FLAGS = {
  model: { type: 'string', short: 'm' }, port: { type: 'string' }, host: { type: 'string' },
  'threshold-from': { type: 'string' }, quantile: { type: 'string' }, threshold: { type: 'string' },
  'min-area': { type: 'string' }, 'fill-holes': { type: 'boolean' }, smooth: { type: 'string' }, backend: { type: 'string' },
  'max-body-mb': { type: 'string' }, 'max-pixels': { type: 'string' }, timeout: { type: 'string' },
  ...PREPROCESS_FLAGS, ...CONFIG_FLAGS,
} as const;

export const SERVE_USAGE = '[--host 127.0.0.1] [--threshold-from <normals dir> [--quantile Q] | --threshold X] [--min-area N] [--fill-holes] [--smooth R] '
  + '[--resize N] [--map-size N] [--backend wasm|cpu|webgpu] [--max-body-mb 32] [--max-pixels 40000000] [--timeout 60]';

type Values = Record<string, string | boolean | undefined>;

export interface ServeLimits { maxBodyBytes: number; maxPixels: number; requestTimeoutMs: number }

export function limitsFromFlags(v: Values): ServeLimits {
  return {
    maxBodyBytes: intFlag(v['max-body-mb'] as string | undefined, 'max-body-mb', 32) * 2 ** 20,
    maxPixels: intFlag(v['max-pixels'] as string | undefined, 'max-pixels', 40_000_000),
    requestTimeoutMs: intFlag(v.timeout as string | undefined, 'timeout', 60) * 1000,
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
  if (v.threshold !== undefined && v['threshold-from'] !== undefined) throw new UsageError('give --threshold or --threshold-from, not both');
  const manual = numFlag(v.threshold as string | undefined, 'threshold');
  const quantile = numFlag(v.quantile as string | undefined, 'quantile');
  const options: ProposalOptions = {
    ...(v['min-area'] ? { minArea: intFlag(v['min-area'] as string, 'min-area', 1) } : {}),
    ...(v.smooth ? { smoothRadius: intFlag(v.smooth as string, 'smooth', 1) } : {}),
    ...(v['fill-holes'] ? { fillHoles: true } : {}),
  };
  const normalsFiles = v['threshold-from'] ? await collectImages([v['threshold-from'] as string]) : undefined;
  await useBackend(choice(v.backend as string | undefined, 'backend', ['wasm', 'cpu', 'webgpu'] as const, 'wasm'));
  const { detector, name, calibration: saved } = await loadDetector(modelPath, configOverrides(v));
  try {
    const preprocess = preprocessFromFlags(v, { ...detector.preprocess, protocol: 'annotate' });
    checkServedPreprocess(preprocess);
    validatePreprocess(preprocess, detector.inputMultiple > 1 ? detector.inputMultiple : undefined);
    let threshold: ThresholdChoice;
    if (normalsFiles) {
      const maps = [];
      for (const f of normalsFiles) maps.push(await imageMap(detector, decodeImage(await readInput(f), f), preprocess, f));
      threshold = { kind: 'calibration', calibration: calibrateFromNormals(maps.map((m) => m.map), maps.map((m) => m.score), quantile === undefined ? {} : { quantile }) };
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
