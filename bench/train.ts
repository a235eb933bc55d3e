/**
 * npm run bench:train — INP-Former trained through the CLI on ../shared/data/mvtec256, evaluated next to the kNN
 * baseline of the same encoder: the metric table, training wall time and ms per image, into BENCHMARKS.md.
 * Recipe for CNN encoders (ours): ResNet-18 layer2 tokens (128 channels, 3×3-averaged) on the 28×28 grid of a
 * 224 input, one token layer, 4 decoder blocks, 4 heads; the official loss, StableAdamW and schedule.
 * Options: --categories bottle,screw --encoder <spec> --steps 400 --batch 16 --warmup 50
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { main } from '../integrations/cli/main.ts';
import { replaceSection } from './report.ts';

const SHARED = path.resolve(import.meta.dirname, '../../shared');
const DATA = path.join(SHARED, 'data/mvtec256');
const RESNET18 = path.join(SHARED, 'fixtures/resnet18/resnet18-imagenet-l3.pth');
const { values } = parseArgs({ options: {
  categories: { type: 'string', default: 'bottle,screw' }, encoder: { type: 'string', default: `resnet18=${RESNET18}:layer2` },
  steps: { type: 'string', default: '400' }, batch: { type: 'string', default: '16' }, warmup: { type: 'string', default: '50' },
} });
if (!existsSync(DATA) || !existsSync(RESNET18)) {
  console.error(`bench:train: skipped: ${DATA} or ${RESNET18} is absent (the evaluation data lives in ../shared, never in this repo)`);
  process.exit(0);
}
const work = mkdtempSync(path.join(os.tmpdir(), 'bench-train-'));
const run = async (...args: string[]) => {
  const code = await main(args);
  if (code !== 0) throw new Error(`inp-former ${args.join(' ')} exited ${code}`);
};
const pct = (v: number | null) => (v === null ? '—' : (100 * v).toFixed(1));
const label = values.encoder!.replace(RESNET18, '<r18.pth>');
const rows: string[] = [];
for (const cat of values.categories!.split(',')) {
  const dir = path.join(DATA, cat);
  const results: Array<[string, Record<string, any>, string]> = [];
  for (const kind of ['inp-former', 'knn'] as const) {
    const model = path.join(work, `${cat}-${kind}`);
    const t0 = performance.now();
    if (kind === 'inp-former') {
      await run('train', '-e', values.encoder!, '-d', path.join(dir, 'train', 'good'), '-o', model, '--resize', '224',
        '--steps', values.steps!, '--batch', values.batch!, '--warmup-steps', values.warmup!);
    } else {
      await run('fit-knn', '-e', values.encoder!, '-d', path.join(dir, 'train', 'good'), '-o', model);
    }
    const trainS = (performance.now() - t0) / 1000;
    const out = path.join(work, `${cat}-${kind}.json`);
    await run('eval', '-m', model, '-d', dir, '-o', out);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    const recipe = kind === 'inp-former' ? `INP-Former, ${values.steps} steps × ${values.batch}` : 'kNN (coreset 1 %)';
    results.push([recipe, r, `${(trainS / 60).toFixed(1)} min`]);
  }
  for (const [recipe, r, t] of results) {
    const row = `| ${cat} | ${recipe} | ${pct(r.image_auroc)} | ${pct(r.image_ap)} | ${pct(r.image_f1max)} | ${pct(r.pixel_auroc)} | ${pct(r.pixel_ap)} | ${pct(r.pixel_f1max)} | ${pct(r.aupro)} | ${t} | ${r.ms_per_image.toFixed(0)} |`;
    console.log(row);
    rows.push(row);
  }
}
replaceSection('train-cnn', [
  `Command: \`npm run bench:train${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}) · tfjs wasm, Node ${process.version}.`,
  `Single-class INP-Former over the ResNet-18 encoder \`${label}\` (224 input, 28×28 token grid, one token layer, 4 decoder blocks), trained with the official loss, StableAdamW and schedule, next to the training-free kNN on the same tokens; metrics in %, official map chain (image score: INP-Former top-1 % mean, kNN max). Fit/train time includes computing the frozen features.`,
  '',
  '| category | model | I-AUROC | I-AP | I-F1max | P-AUROC | P-AP | P-F1max | AUPRO | train | ms/img |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n'));
