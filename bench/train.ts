/**
 * npm run bench:train — INP-Former trained through the CLI on ../shared/data/mvtec256 and evaluated with `eval`, into
 * BENCHMARKS.md. One mode per invocation (each writes its own section):
 *   --mode single   (default) one model per category, next to the kNN baseline on the same tokens   → train-cnn
 *   --mode multi    one model over all --categories' normals, evaluated per category                 → train-multi
 *   --mode fewshot  one multi-class model from K = --shots normals per category (22 views each)      → train-fewshot
 *   --mode finetune a multi-class model on --categories, fine-tuned on --finetune-images normals of --unseen,
 *                   against the same model without fine-tuning, its zero-shot map and a kNN on those normals
 *                                                                                                     → train-finetune-<unseen>
 * Recipe for CNN encoders (ours): ResNet-18 layer2 tokens (128 channels, 3×3-averaged) on the 28×28 grid of a 224
 * input, one token layer, 4 decoder blocks, 4 heads; the official loss, StableAdamW and schedule.
 * Options: --categories a,b --encoder <spec> --steps N --batch N --warmup N --shots 4 --unseen screw
 *          --finetune-images 8 --finetune-steps N --seed 1
 *          --base <model dir>  (finetune: start from this multi-class model, e.g. an earlier run's, instead of training one)
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { main } from '../integrations/cli/main.ts';
import { seededRandom } from '../src/inp-former/init.ts';
import { replaceSection } from './report.ts';

const SHARED = path.resolve(import.meta.dirname, '../../shared');
const DATA = path.join(SHARED, 'data/mvtec256');
const RESNET18 = path.join(SHARED, 'fixtures/resnet18/resnet18-imagenet-l3.pth');
const MODES = ['single', 'multi', 'fewshot', 'finetune'] as const;
const { values } = parseArgs({ options: {
  mode: { type: 'string', default: 'single' }, categories: { type: 'string' },
  encoder: { type: 'string', default: `resnet18=${RESNET18}:layer2` },
  steps: { type: 'string', default: '150' }, batch: { type: 'string', default: '8' }, warmup: { type: 'string', default: '20' },
  shots: { type: 'string', default: '4' }, unseen: { type: 'string', default: 'screw' },
  'finetune-images': { type: 'string', default: '8' }, base: { type: 'string' }, 'finetune-steps': { type: 'string', default: '10' }, seed: { type: 'string', default: '1' },
} });
const mode = values.mode as (typeof MODES)[number];
if (!MODES.includes(mode)) throw new Error(`--mode must be one of ${MODES.join(', ')}, got ${values.mode}`);
if (!existsSync(DATA) || !existsSync(RESNET18)) {
  console.error(`bench:train: skipped: ${DATA} or ${RESNET18} is absent (the evaluation data lives in ../shared, never in this repo)`);
  process.exit(0);
}
const categories = (values.categories ?? (mode === 'single' ? 'bottle,screw' : mode === 'finetune' ? 'bottle,capsule' : 'bottle,screw,capsule')).split(',');
const work = mkdtempSync(path.join(os.tmpdir(), `bench-train-${mode}-`));
const featureCache = path.join(work, 'features');
const encoderLabel = values.encoder!.replace(RESNET18, '<r18.pth>');
const command = `npm run bench:train${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const machine = `${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}) · tfjs wasm (training: ${os.availableParallelism()} gradient threads, \`--threads\` default), Node ${process.version}`;

/** Runs the CLI in this process; returns its wall time in seconds and the load average over the run. */
async function cli(...args: string[]): Promise<{ seconds: number; load: string }> {
  const t0 = performance.now();
  const before = os.loadavg()[0];
  const code = await main(args);
  if (code !== 0) throw new Error(`inp-former ${args.join(' ')} exited ${code}`);
  return { seconds: (performance.now() - t0) / 1000, load: `${before.toFixed(1)}→${os.loadavg()[0].toFixed(1)}` };
}
const trainGood = (cat: string) => path.join(DATA, cat, 'train', 'good');
const trainFlags = (steps = values.steps!) => ['--resize', '224', '--steps', steps, '--batch', values.batch!, '--warmup-steps', values.warmup!,
  '--seed', values.seed!, '--feature-cache', featureCache];

/** `k` normals of a category drawn with a seeded sample (the official few-shot draws with random.sample after seed 1). */
function sample(cat: string, k: number): string[] {
  const files = readdirSync(trainGood(cat)).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  const rand = seededRandom(Number(values.seed));
  for (let i = files.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [files[i], files[j]] = [files[j], files[i]];
  }
  return files.slice(0, k).sort().map((f) => path.join(trainGood(cat), f));
}

async function evaluate(model: string, cat: string, ...extra: string[]): Promise<Record<string, any>> {
  const out = path.join(work, `${path.basename(model)}-${cat}${extra.length ? '-zs' : ''}.json`);
  await cli('eval', '-m', model, '-d', path.join(DATA, cat), '-o', out, ...extra);
  return JSON.parse(readFileSync(out, 'utf8'));
}

const pct = (v: number | null) => (v === null ? '—' : (100 * v).toFixed(1));
const metricCells = (r: Record<string, any>) => [r.image_auroc, r.image_ap, r.image_f1max, r.pixel_auroc, r.pixel_ap, r.pixel_f1max, r.aupro].map(pct).join(' | ');
const minutes = (s: number) => (s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);
const METRIC_HEAD = 'I-AUROC | I-AP | I-F1max | P-AUROC | P-AP | P-F1max | AUPRO';
const row = (cells: string[]) => {
  const line = `| ${cells.join(' | ')} |`;
  console.log(line);
  return line;
};
const recipe = `INP-Former, ${values.steps} steps × ${values.batch}`;
const about = `INP-Former over the ResNet-18 encoder \`${encoderLabel}\` (224 input, 28×28 token grid, one token layer, 4 decoder blocks), trained with the official loss, StableAdamW and schedule (warm-up ${values.warmup} steps, seed ${values.seed}); metrics in %, official map chain (image score: INP-Former top-1 % mean, kNN max); ms/img from \`eval\` (onnxruntime-node). Train time includes computing the frozen features; "load" is the 1-minute load average before → after (2 cores: above 1 another process shared the machine).`;

if (mode === 'single') {
  const rows: string[] = [];
  for (const cat of categories) {
    const inp = path.join(work, `${cat}-inp-former`);
    const t = await cli('train', '-e', values.encoder!, '-d', trainGood(cat), '-o', inp, ...trainFlags());
    const r = await evaluate(inp, cat);
    rows.push(row([cat, recipe, metricCells(r), minutes(t.seconds), t.load, r.ms_per_image.toFixed(0)]));
    const knn = path.join(work, `${cat}-knn`);
    const k = await cli('fit-knn', '-e', values.encoder!, '-d', trainGood(cat), '-o', knn);
    const rk = await evaluate(knn, cat);
    rows.push(row([cat, 'kNN (coreset 1 %)', metricCells(rk), minutes(k.seconds), k.load, rk.ms_per_image.toFixed(0)]));
  }
  replaceSection('train-cnn', [
    `Command: \`${command}\` · ${machine}.`,
    `Single-class ${about} Next to it, the training-free kNN on the same tokens.`,
    '',
    `| category | model | ${METRIC_HEAD} | train | load | ms/img |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'));
} else if (mode === 'multi' || mode === 'fewshot') {
  const shots = Number(values.shots);
  const data = mode === 'multi' ? categories.map(trainGood) : categories.flatMap((c) => sample(c, shots));
  const model = path.join(work, `${mode}-inp-former`);
  const t = await cli('train', '-e', values.encoder!, '-d', ...data, '-o', model, ...trainFlags(), ...(mode === 'fewshot' ? ['--few-shot'] : []));
  const rows = [];
  for (const cat of categories) {
    const r = await evaluate(model, cat);
    rows.push(row([cat, metricCells(r), r.ms_per_image.toFixed(0)]));
  }
  const what = mode === 'multi'
    ? `Multi-class: one model trained on the normals of ${categories.join(', ')} pooled (${data.length} folders), ${recipe}.`
    : `Few-shot, K = ${shots}: one multi-class model from ${shots} normals per category (seeded sample, seed ${values.seed}: ${data.map((f) => path.basename(f)).join(', ')} in the category order ${categories.join(', ')}), each expanded into the 22 views of spec §3, ${recipe}.`;
  replaceSection(`train-${mode}`, [
    `Command: \`${command}\` · ${machine}.`,
    `${what} ${about}`,
    '',
    `Training: ${minutes(t.seconds)} (load ${t.load}).`,
    '',
    `| category | ${METRIC_HEAD} | ms/img |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'));
} else {
  const unseen = values.unseen!;
  if (categories.includes(unseen)) throw new Error(`--unseen ${unseen} must not be among the training --categories`);
  const base = values.base ?? path.join(work, 'base-inp-former');
  const t = values.base ? undefined : await cli('train', '-e', values.encoder!, '-d', ...categories.map(trainGood), '-o', base, ...trainFlags());
  const shots = sample(unseen, Number(values['finetune-images']));
  const tuned = path.join(work, 'tuned-inp-former');
  const f = await cli('finetune', '-m', base, '-d', ...shots, '-o', tuned, '--steps', values['finetune-steps']!, '--batch', String(shots.length), '--seed', values.seed!);
  const knn = path.join(work, 'unseen-knn');
  const k = await cli('fit-knn', '-e', values.encoder!, '-d', ...shots, '-o', knn);
  const rows = [
    row([`trained on ${categories.join(' + ')}, no fine-tuning`, metricCells(await evaluate(base, unseen)), '—']),
    row([`the same, zero-shot map (INP coherence)`, metricCells(await evaluate(base, unseen, '--zero-shot')), '—']),
    row([`fine-tuned: INP tokens, ${values['finetune-steps']} steps × ${shots.length} on ${shots.length} ${unseen} normals`, metricCells(await evaluate(tuned, unseen)), `${minutes(f.seconds)} (load ${f.load})`]),
    row([`kNN fitted on the same ${shots.length} normals (reference)`, metricCells(await evaluate(knn, unseen)), `${minutes(k.seconds)}`]),
  ];
  replaceSection(`train-finetune-${unseen}`, [
    `Command: \`${command}\` · ${machine}.`,
    `Fine-tuning on a category the model has never seen: a multi-class model trained on ${categories.join(', ')} (${recipe}, ${t ? `${minutes(t.seconds)}, load ${t.load}` : 'trained by an earlier run of this bench and passed with --base'}), evaluated on ${unseen} as it is, with its zero-shot map, and after fine-tuning its INP tokens on ${shots.length} ${unseen} normals (seeded sample: ${shots.map((s) => path.basename(s)).join(', ')}; \`inp-former finetune\`, wall time of the whole command incl. loading and encoding; target under 60 s). ${about}`,
    '',
    `| model on ${unseen} | ${METRIC_HEAD} | fine-tune time |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'));
}
