import { createCvatDetector } from '../cvat/handler.ts';
import { createCvatServer } from '../cvat/server.ts';
import { parse, UsageError } from './args.ts';
import { allowedOriginsFromFlags, basicAuthFromEnv, limitsFromFlags, loadServedModel, serveUntilStopped, SERVE_FLAGS, SERVE_USAGE } from './serve-common.ts';

const FLAGS = { ...SERVE_FLAGS, label: { type: 'string' } } as const;

/** The detector behind both the HTTP server and the Nuclio entry, from the same command-line flags. */
export async function cvatDetectorFromArgs(argv: string[]) {
  const { values, positionals } = parse(argv, FLAGS);
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const limits = limitsFromFlags(values);
  const { model } = await loadServedModel(values);
  const label = values.label ?? 'defect';
  return { values, limits, model, label, detect: createCvatDetector({ model, label, maxPixels: limits.maxPixels, maxQueue: limits.maxQueue, deadlineMs: limits.requestTimeoutMs }) };
}

export const command = {
  summary: 'CVAT detector function over HTTP (the Nuclio handler contract): POST / {image: base64, threshold: 0–1} → mask shapes; threshold 0.5 = the calibrated threshold. Env: BASIC_AUTH_USER/BASIC_AUTH_PASS.',
  usage: `-m <model> [--port 8080] ${SERVE_USAGE} [--label defect]`,
  async run(argv: string[]) {
    const basicAuth = basicAuthFromEnv(process.env);
    const d = await cvatDetectorFromArgs(argv);
    const server = createCvatServer({
      detect: d.detect, info: { name: 'inp-former-anomaly', labels: [d.label], model_version: d.model.version },
      maxBodyBytes: d.limits.maxBodyBytes, requestTimeoutMs: d.limits.requestTimeoutMs, allowedOrigins: allowedOriginsFromFlags(d.values),
      // The same variables as serve-ls: Nuclio's HTTP trigger and CVAT can send basic auth; unset, none is asked.
      ...(basicAuth ? { basicAuth } : {}),
    });
    try {
      await serveUntilStopped(server, d.values, 8080, 'serve-cvat');
    } finally {
      d.model.detector.dispose();
    }
  },
};
