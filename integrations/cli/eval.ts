import path from 'node:path';
import { evaluateItems, type DatasetEvaluation } from '../../src/evaluation/evaluate-dataset.ts';
import { loadDataset } from '../../src/platform/node/dataset.ts';
import type { DetectionMetrics } from '../../src/metrics/evaluate.ts';
import { writeFileAtomic } from '../../src/platform/node/files.ts';
import { validatePreprocess } from '../../src/preprocess/preprocess.ts';
import { intFlag, parse, required } from './args.ts';
import { loadDetector, startBackend } from './detector-io.ts';
import { readInput } from './images.ts';
import { configOverrides, CONFIG_FLAGS, REFINE_FLAGS, REFINE_USAGE } from './model-flags.ts';
import { preprocessFromFlags, PREPROCESS_FLAGS } from './predict.ts';
import { progressReporter } from './progress.ts';

const METRICS = ['image_auroc', 'image_ap', 'image_f1max', 'pixel_auroc', 'pixel_ap', 'pixel_f1max', 'aupro'] as const;

/** The paper's table layout: percentages with one decimal; "—" where a metric is undefined (reason in the JSON notes). */
export function metricsTable(rows: Array<[string, DetectionMetrics]>): string {
  const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(1) : '—');
  const head = ['', 'I-AUROC', 'I-AP', 'I-F1max', 'P-AUROC', 'P-AP', 'P-F1max', 'AUPRO'];
  const lines = [head, ...rows.map(([name, m]) => [name, ...METRICS.map((k) => pct(m[k]))])];
  const widths = head.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  return lines.map((l) => l.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ')).join('\n');
}

/** results.json: the pooled metrics at the top level (fractions), per defect type under per_type. */
export function resultsJson(e: DatasetEvaluation, extra: Record<string, unknown>): Record<string, unknown> {
  const pick = (m: DetectionMetrics) => ({ ...Object.fromEntries(METRICS.map((k) => [k, Number.isFinite(m[k]) ? m[k] : null])), counts: m.counts, notes: m.notes });
  return { ...extra, ...pick(e.metrics), ms_per_image: e.ms_per_image, per_type: Object.fromEntries(Object.entries(e.per_type).map(([t, m]) => [t, pick(m)])), scores: e.scores };
}

export const command = {
  summary: 'Evaluate a model on a dataset folder (MVTec layout, or normal/ + test/): image and pixel AUROC, AP, F1-max and AUPRO.',
  usage: `-m <model-dir|checkpoint> -d <category dir> [-o results.json] [--protocol official|annotate] [--resize N --crop N] [--map-size N] [--backend onnx|wasm|cpu|webgpu] [--batch N] [--zero-shot] ${REFINE_USAGE}`,
  async run(argv: string[]) {
    const { values } = parse(argv, {
      model: { type: 'string', short: 'm' }, data: { type: 'string', short: 'd' }, output: { type: 'string', short: 'o' },
      backend: { type: 'string' }, batch: { type: 'string' }, 'zero-shot': { type: 'boolean' }, ...PREPROCESS_FLAGS, ...CONFIG_FLAGS, ...REFINE_FLAGS,
    });
    const modelPath = required(values.model, 'model (-m)');
    const dir = required(values.data, 'data (-d)');
    const dataset = await loadDataset(dir);
    for (const line of dataset.report) console.error(`eval: ${line}`);
    const backend = await startBackend(values.backend, 'eval');
    const { detector, name, runtime } = await loadDetector(modelPath, configOverrides(values), { onnx: backend.onnx, raw: !!values['no-refine'] });
    try {
      const pre = preprocessFromFlags(values, detector.preprocess);
      validatePreprocess(pre, detector.inputMultiple > 1 ? detector.inputMultiple : undefined);
      const progress = progressReporter('eval', dataset.test.length);
      const e = await evaluateItems(detector, dataset.test, pre, {
        readBytes: readInput, batch: intFlag(values.batch, 'batch', 1), zeroShot: values['zero-shot'], onProgress: (d, _, f) => progress.tick(d, path.basename(f)),
      });
      progress.end();
      console.log(metricsTable([['all', e.metrics], ...Object.entries(e.per_type)]));
      console.log(`${e.ms_per_image.toFixed(0)} ms per image (${runtime}${detector.refined ? ', refined map' : ''})`);
      for (const n of e.metrics.notes) console.error(`eval: note: ${n}`);
      if (values.output) {
        await writeFileAtomic(values.output, `${JSON.stringify(resultsJson(e, { model: name, dataset: dir, protocol: pre, runtime, map: values['zero-shot'] ? 'zero-shot' : detector.refined ? 'refined' : 'reconstruction' }), null, 2)}\n`);
      }
    } finally {
      detector.dispose();
    }
  },
};
