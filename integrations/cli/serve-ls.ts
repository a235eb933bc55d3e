import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLabelStudioBackend } from '../label-studio/server.ts';
import { createTrainer } from '../label-studio/train.ts';
import { intFlag, parse, UsageError } from './args.ts';
import { allowedOriginsFromFlags, basicAuthFromEnv, limitsFromFlags, loadServedModel, SERVE_FLAGS, SERVE_USAGE, serveUntilStopped } from './serve-common.ts';
import { configOverrides } from './model-flags.ts';
import { DEFAULT_FINETUNE_MODE, FINETUNE_RECIPES } from '../../src/train/recipe.ts';
import { REFINE_STEPS } from '../../src/refine/config.ts';

export const command = {
  summary: 'Label Studio ML backend: /health, /setup, /predict (brush predictions), /webhook (collects annotations; START_TRAINING trains a new model version). Env: LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY, BASIC_AUTH_USER/BASIC_AUTH_PASS.',
  usage: `-m <model> [--port 9090] ${SERVE_USAGE} [--label NAME] [--max-tasks 256] [--max-image-mb 32] [--fetch-timeout 30] [--train-dir DIR] [--fine-tune-steps N] [--refine-steps N (${REFINE_STEPS}; 0: no refinement head from accepted masks)]`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {
      ...SERVE_FLAGS, label: { type: 'string' }, 'max-tasks': { type: 'string' }, 'max-image-mb': { type: 'string' },
      'fetch-timeout': { type: 'string' }, 'train-dir': { type: 'string' }, 'fine-tune-steps': { type: 'string' },
      'refine-steps': { type: 'string' },
    });
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const limits = limitsFromFlags(values);
    const lsUrl = process.env.LABEL_STUDIO_URL;
    if (lsUrl && !URL.canParse(lsUrl)) throw new UsageError(`LABEL_STUDIO_URL is not a URL: "${lsUrl}"`);
    const basicAuth = basicAuthFromEnv(process.env);
    const allowedOrigins = allowedOriginsFromFlags(values);
    const steps = intFlag(values['fine-tune-steps'], 'fine-tune-steps', FINETUNE_RECIPES[DEFAULT_FINETUNE_MODE].steps);
    const loaded = await loadServedModel(values);
    const outDir = values['train-dir'] ?? await mkdtemp(path.join(tmpdir(), 'inp-former-ls-'));
    const { server } = createLabelStudioBackend({
      model: loaded.model, ...limits, ...(basicAuth ? { basicAuth } : {}), allowedOrigins, ...(values.label ? { label: values.label } : {}),
      maxTasks: intFlag(values['max-tasks'], 'max-tasks', 256),
      images: {
        ...(lsUrl ? { labelStudioUrl: lsUrl } : {}),
        ...(process.env.LABEL_STUDIO_API_KEY ? { apiKey: process.env.LABEL_STUDIO_API_KEY } : {}),
        timeoutMs: intFlag(values['fetch-timeout'], 'fetch-timeout', 30) * 1000,
        maxBytes: intFlag(values['max-image-mb'], 'max-image-mb', 32) * 2 ** 20,
      },
      train: createTrainer({
        modelPath: loaded.modelPath, overrides: configOverrides(values), outDir, fineTuneSteps: steps,
        refineSteps: intFlag(values['refine-steps'], 'refine-steps', REFINE_STEPS, 0),
        serve: loaded.model, ...(loaded.normalsFiles ? { normalsFiles: loaded.normalsFiles } : {}), ...(loaded.quantile !== undefined ? { quantile: loaded.quantile } : {}),
      }),
    });
    console.error(`serve-ls: model ${loaded.model.version}; trained versions go to ${outDir}; images from ${lsUrl ?? '(LABEL_STUDIO_URL unset: data: URIs only)'}`);
    try {
      await serveUntilStopped(server, values, 9090, 'serve-ls');
    } finally {
      loaded.model.detector.dispose();
    }
  },
};
