/**
 * npm run bench:train — INP-Former trained through the CLI on ../shared/data/mvtec256 and evaluated with `eval`, into
 * BENCHMARKS.md. One mode per invocation (each writes its own section); every train / finetune / fit-knn runs as a
 * user runs it, in its own process, with the defaults unless a mode says otherwise:
 *   --mode single   (default) `train -e <spec>` with no other flag per category and encoder spec, beside
 *                   `fit-knn -e <spec>`; each pair's rows replace that pair's rows                   → train-cnn
 *   --mode multi    one model over all --categories' normals, evaluated per category                 → train-multi
 *   --mode fewshot  one multi-class model from K = --shots normals per category (22 views each)      → train-fewshot
 *   --mode finetune a multi-class model on --categories, fine-tuned in every --mode on --finetune-images normals of
 *                   --unseen, against the base, its zero-shot map and a kNN on those normals       → train-finetune-<unseen>
 *   --mode loop     the annotator's loop on the first --categories entry: trained on 8 normals, fine-tuned on 32
 *                   in every mode, against training from scratch on the 32                          → train-loop-<category>
 * Options: --categories a,b --encoders <spec,spec> (single) --encoder <spec> (others) --steps N --batch N --warmup N
 *          (multi, fewshot) --shots 4 --unseen screw --finetune-images 8 --seed 1
 *          --base <model dir>  (finetune: start from this multi-class model, e.g. an earlier run's, instead of training one)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { main } from '../integrations/cli/main.ts';
import { seededRandom } from '../src/inp-former/init.ts';
import { TRAIN_MODES as FINETUNE_MODES } from '../src/train/recipe.ts';
import { replaceSection } from './report.ts';

const SHARED = path.resolve(import.meta.dirname, '../../shared');
const DATA = path.join(SHARED, 'data/mvtec256');
const RESNET18 = path.join(SHARED, 'fixtures/resnet18/resnet18-imagenet-l3.pth');
const MODES = ['single', 'multi', 'fewshot', 'finetune', 'loop'] as const;
const { values } = parseArgs({ options: {
  mode: { type: 'string', default: 'single' }, categories: { type: 'string' }, encoders: { type: 'string' },
  encoder: { type: 'string', default: `resnet18=${RESNET18}` },
  steps: { type: 'string', default: '150' }, batch: { type: 'string', default: '8' }, warmup: { type: 'string', default: '20' },
  shots: { type: 'string', default: '4' }, unseen: { type: 'string', default: 'screw' },
  'finetune-images': { type: 'string', default: '8' }, base: { type: 'string' }, seed: { type: 'string', default: '1' },
} });
const mode = values.mode as (typeof MODES)[number];
if (!MODES.includes(mode)) throw new Error(`--mode must be one of ${MODES.join(', ')}, got ${values.mode}`);
if (!existsSync(DATA) || !existsSync(RESNET18)) {
  console.error(`bench:train: skipped: ${DATA} or ${RESNET18} is absent (the evaluation data lives in ../shared, never in this repo)`);
  process.exit(0);
}
const categories = (values.categories ?? (mode === 'finetune' ? 'bottle,capsule' : 'bottle,screw,capsule')).split(',');
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
/**
 * Runs the CLI as a user does, in its own process (bin/inp-former.js); wall time, load average over the run, and
 * (train / finetune) the mean step time of the first and of the last 50 steps, read from its progress lines.
 */
function freshCli(...args: string[]): { seconds: number; load: string; stepTimes?: [number, number] } {
  const t0 = performance.now();
  const before = os.loadavg()[0];
  const r = spawnSync(process.execPath, [path.join(import.meta.dirname, '../bin/inp-former.js'), ...args], { stdio: ['ignore', 'inherit', 'pipe'], maxBuffer: 64 << 20 });
  const err = r.stderr?.toString() ?? '';
  process.stderr.write(err);
  if (r.status !== 0) throw new Error(`inp-former ${args.join(' ')} exited ${r.status ?? r.signal}`);
  return { seconds: (performance.now() - t0) / 1000, load: `${before.toFixed(1)}→${os.loadavg()[0].toFixed(1)}`, ...stepTimes(err) };
}

/** Mean seconds per step over steps 1–50 and over the last 50, from `train: step N/M … X s elapsed` lines. */
function stepTimes(log: string): { stepTimes?: [number, number] } {
  const at = new Map<number, number>();
  for (const m of log.matchAll(/: step (\d+)\/\d+ .*? ([\d.]+) s elapsed/g)) at.set(Number(m[1]), Number(m[2]));
  const last = Math.max(0, ...at.keys());
  if (last < 100 || !at.has(1) || !at.has(50) || !at.has(last - 49)) return {};
  return { stepTimes: [(at.get(50)! - at.get(1)!) / 49, (at.get(last)! - at.get(last - 49)!) / 49] };
}
const stepCell = (t: { stepTimes?: [number, number] }) => (t.stepTimes ? `${t.stepTimes[0].toFixed(2)} → ${t.stepTimes[1].toFixed(2)} s` : '—');

/** Steps the model folder says it was trained for (its manifest's source). */
function inpSteps(dir: string): string {
  const format: string = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).source?.format ?? '';
  return /(\d+) steps/.exec(format)?.[0] ?? 'steps unknown';
}

/** Met / missed against the kNN row, per the issue's rule (pixel figures only where the category has masks). */
function targetVerdict(r: Record<string, any>, k: Record<string, any>, t: { seconds: number; stepTimes?: [number, number] }): string {
  const miss: string[] = [];
  if (t.seconds > 15 * 60) miss.push(`time ${minutes(t.seconds)} > 15 min`);
  if (t.stepTimes && t.stepTimes[1] > 1.1 * t.stepTimes[0]) miss.push(`last 50 steps ${(100 * (t.stepTimes[1] / t.stepTimes[0] - 1)).toFixed(0)} % slower`);
  if (r.image_auroc < k.image_auroc) miss.push(`I-AUROC ${(100 * (r.image_auroc - k.image_auroc)).toFixed(1)}`);
  for (const [f, name] of [['pixel_auroc', 'P-AUROC'], ['aupro', 'AUPRO']] as const) {
    if (r[f] !== null && k[f] !== null && r[f] < k[f] - 0.005) miss.push(`${name} ${(100 * (r[f] - k[f])).toFixed(1)}`);
  }
  return miss.length ? `missed: ${miss.join(', ')}` : 'met';
}

/**
 * Replaces the rows of one (category, encoder) pair in a section (a dated comment line keys them), keeping the
 * other pairs' rows; `head` is the section's text above the table.
 */
function upsertRows(section: string, key: string, rows: string[], head: string[]): void {
  const text = existsSync('BENCHMARKS.md') ? readFileSync('BENCHMARKS.md', 'utf8') : '';
  const start = text.indexOf(`<!-- ${section}:start -->`);
  const end = text.indexOf(`<!-- ${section}:end -->`);
  const old = start >= 0 && end > start ? text.slice(start, end).split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| category') ) : [];
  const mine = (l: string) => l.startsWith(`| ${key.split(' · ')[0]} | ${key.split(' · ')[1]} |`);
  const kept = old.filter((l) => /^\| \w+ \| `/.test(l) && !mine(l));
  const stamp = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  replaceSection(section, [...head, ...kept, ...rows.map((l) => l.replace(/ \|$/, ` (${stamp}) |`))].join('\n'));
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
const about = `INP-Former over \`${encoderLabel}\` with our CNN recipe (src/train/recipe.ts, models/inp-former-cnn.md) and the flags above (seed ${values.seed}); metrics in %, official map chain (image score: INP-Former top-1 % mean); ms/img from \`eval\` (onnxruntime-node). Train time includes computing the frozen features; "load" is the 1-minute load average before → after (2 cores: above 2 another process shared the machine).`;

if (mode === 'single') {
  // The issue's target, as a user runs it: `inp-former train -e <encoder> -d <normals> -o <dir>` with no other flag,
  // each in a fresh process (time includes encoding), then `eval`; beside it `fit-knn` with its defaults on the same
  // encoder. Each (encoder, category) pair's rows replace that pair's rows in the section, so pairs can run apart.
  const specs = (values.encoders ?? `resnet18=${RESNET18},nsfwjs-mobilenetv2`).split(',');
  for (const spec of specs) {
    for (const cat of categories) {
      const label = spec.replace(RESNET18, '<r18.pth>');
      const inp = path.join(work, `${cat}-inp-former`);
      const t = freshCli('train', '-e', spec, '-d', trainGood(cat), '-o', inp);
      const r = await evaluate(inp, cat);
      const knn = path.join(work, `${cat}-knn`);
      const k = freshCli('fit-knn', '-e', spec, '-d', trainGood(cat), '-o', knn);
      const rk = await evaluate(knn, cat);
      const verdict = targetVerdict(r, rk, t);
      upsertRows('train-cnn', `${cat} · \`${label}\``, [
        row([cat, `\`${label}\``, `INP-Former (default recipe, ${inpSteps(inp)})`, metricCells(r), minutes(t.seconds), stepCell(t), t.load, r.ms_per_image.toFixed(0), verdict]),
        row([cat, `\`${label}\``, 'kNN (`fit-knn` defaults)', metricCells(rk), minutes(k.seconds), '—', k.load, rk.ms_per_image.toFixed(0), '']),
      ], [
        `Command: \`npm run bench:train -- --mode single [--categories …] [--encoders …]\` (rows from separate runs, each dated in its row group) · ${machine}.`,
        'Target (issue I): `inp-former train -e <encoder> -d <normals> -o <dir>` with no other flag, in a fresh process, under 15 min on this 2-core machine including encoding; its `eval` image AUROC ≥ the kNN\'s (`fit-knn` defaults, same encoder spec), pixel AUROC and AUPRO at most 0.5 below (capsule: image metrics only); its last 50 steps within 10 % of its first 50. Metrics in %; ms/img from `eval` (onnxruntime-node); "load": 1-minute load average before → after (2 cores: above 2, something else shared the machine).',
        '',
        `| category | encoder | model | ${METRIC_HEAD} | train / fit | step time, first → last 50 | load | ms/img | target |`,
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ]);
    }
  }
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
} else if (mode === 'finetune') {
  // Unseen category: a multi-class base (default recipe) on --categories, fine-tuned in every mode on 8 normals of
  // --unseen (each mode's defaults), against the base as it is, its zero-shot map and a kNN on the same 8 normals.
  const unseen = values.unseen!;
  if (categories.includes(unseen)) throw new Error(`--unseen ${unseen} must not be among the training --categories`);
  const spec = values.encoder!;
  const base = values.base ?? path.join(work, 'base-inp-former');
  const t = values.base ? undefined : freshCli('train', '-e', spec, '-d', ...categories.map(trainGood), '-o', base);
  const shots = sample(unseen, Number(values['finetune-images']));
  const rows = [
    row([`trained on ${categories.join(' + ')}, no fine-tuning`, metricCells(await evaluate(base, unseen)), '—']),
    row([`the same, zero-shot map (INP coherence)`, metricCells(await evaluate(base, unseen, '--zero-shot')), '—']),
  ];
  for (const m of FINETUNE_MODES) {
    const tuned = path.join(work, `tuned-${m}`);
    const f = freshCli('finetune', '-m', base, '-d', ...shots, '-o', tuned, '--mode', m);
    rows.push(row([`fine-tuned \`--mode ${m}\` (${inpSteps(tuned)}) on ${shots.length} ${unseen} normals`, metricCells(await evaluate(tuned, unseen)), `${minutes(f.seconds)} (load ${f.load})`]));
  }
  const knn = path.join(work, 'unseen-knn');
  const k = freshCli('fit-knn', '-e', spec, '-d', ...shots, '-o', knn);
  rows.push(row([`kNN fitted on the same ${shots.length} normals (reference)`, metricCells(await evaluate(knn, unseen)), `${minutes(k.seconds)}`]));
  replaceSection(`train-finetune-${unseen}`, [
    `Command: \`${command}\` · ${machine}.`,
    `Fine-tuning on a category the model has never seen: a multi-class INP-Former trained on ${categories.join(', ')} with the default recipe (\`${encoderLabel}\`, ${t ? `${minutes(t.seconds)}, load ${t.load}` : 'trained by an earlier run of this bench and passed with --base'}), evaluated on ${unseen} as it is, with its zero-shot map, and after \`inp-former finetune --mode <m>\` on ${shots.length} ${unseen} normals (seeded sample: ${shots.map((s) => path.basename(s)).join(', ')}; wall time of the whole command in a fresh process, incl. loading and encoding). Target (issue I): ≤ 60 s, and image AUROC +20 over the base or within 3 of the kNN on the same normals. Metrics in %.`,
    '',
    `| model on ${unseen} | ${METRIC_HEAD} | fine-tune time |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'));
} else {
  // The annotator's loop: a model trained (default recipe) on 8 normals, fine-tuned in every mode once there are 32,
  // against a model trained from scratch on the 32. Target: within 2 points (image AUROC, AUPRO) in ≤ 1/5 of its time.
  const cat = categories[0];
  const spec = values.encoder!;
  const all = sample(cat, 32);
  const first = all.slice(0, 8);
  const at8 = path.join(work, 'loop-8');
  const t8 = freshCli('train', '-e', spec, '-d', ...first, '-o', at8);
  const at32 = path.join(work, 'loop-32');
  const t32 = freshCli('train', '-e', spec, '-d', ...all, '-o', at32);
  const r32 = await evaluate(at32, cat);
  const rows = [
    row([`trained on the first 8 normals`, metricCells(await evaluate(at8, cat)), minutes(t8.seconds), '']),
    row([`trained from scratch on all 32`, metricCells(r32), minutes(t32.seconds), '']),
  ];
  for (const m of FINETUNE_MODES) {
    const tuned = path.join(work, `loop-tuned-${m}`);
    const f = freshCli('finetune', '-m', at8, '-d', ...all, '-o', tuned, '--mode', m);
    const r = await evaluate(tuned, cat);
    const gaps = [r.image_auroc - r32.image_auroc, r.aupro === null ? 0 : r.aupro - r32.aupro];
    const ok = gaps.every((g) => g >= -0.02) && f.seconds <= t32.seconds / 5;
    rows.push(row([`the 8-normal model fine-tuned \`--mode ${m}\` on all 32`, metricCells(r), `${minutes(f.seconds)} (${(f.seconds / t32.seconds).toFixed(2)} of scratch)`, ok ? 'met' : 'missed']));
  }
  replaceSection(`train-loop-${cat}`, [
    `Command: \`${command}\` · ${machine}.`,
    `The annotator's loop on ${cat} (\`${encoderLabel}\`): a model trained with the default recipe on 8 normals, then, once there are 32 (seeded sample: ${all.map((f) => path.basename(f)).join(', ')}), fine-tuned on all 32 in each mode, against one trained from scratch on the 32. Target (issue I): within 2 points of scratch (image AUROC and AUPRO) in at most a fifth of its time. Times: whole commands in fresh processes. Metrics in %.`,
    '',
    `| model | ${METRIC_HEAD} | time | target |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'));
}
