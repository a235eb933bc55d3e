/**
 * npm run bench:refine — INP-Former++ residual refinement (issue O) on ../shared/data/mvtec256: the kNN default
 * (ResNet-18 layer1+2+3, as bench:masks) raw, refined with pseudo-anomalies only, and refined with k real masks
 * taken from the test set (seeded pick; every row is evaluated on the test set minus the largest k's picks).
 * Image AUROC, pixel AUROC, pixel AP, AUPRO, the normals-only proposals' mean IoU, and the time to refine.
 * Options: --categories bottle,screw --real 0,5,20 --steps N --holdout 30 --no-report (print the rows only)
 *          --inp-model <model dir> (one category: an INP-Former trained on its train/good minus the tail, e.g. by
 *          `inp-former train` with the defaults, refined instead of the kNN; its rows go to the `refine-inp` section)
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { proposeRegions } from '../src/annotate/proposals.ts';
import { readPth } from '../src/checkpoint/pth.ts';
import { decodeImage, decodeMask } from '../src/image/decode.ts';
import { seededRandom } from '../src/inp-former/init.ts';
import { fitKnnModel, imageFiles } from '../src/knn/fit-model.ts';
import { evaluateDetection } from '../src/metrics/evaluate.ts';
import { createDetector } from '../src/pipeline/detector.ts';
import { imageMap } from '../src/pipeline/image-map.ts';
import { runRefineJob, type RefinableContent } from '../src/pipeline/refine-job.ts';
import { loadDataset } from '../src/platform/node/dataset.ts';
import { loadModelFromPath } from '../src/platform/node/model-folder.ts';
import { inputSize } from '../src/preprocess/preprocess.ts';
import { useBackend } from '../src/runtime/backend.ts';
import { calibrateFromNormals } from '../src/threshold/strategies.ts';
import type { AnomalyMap, PreprocessConfig } from '../src/types.ts';
import { replaceSection } from './report.ts';

const SHARED = path.resolve(import.meta.dirname, '../../shared');
const DATA = path.join(SHARED, 'data/mvtec256');
const RESNET18 = path.join(SHARED, 'fixtures/resnet18/resnet18-imagenet-l3.pth');
const { values } = parseArgs({ options: {
  categories: { type: 'string', default: 'bottle,screw' }, real: { type: 'string', default: '0,5,20' },
  steps: { type: 'string' }, holdout: { type: 'string', default: '30' }, 'no-report': { type: 'boolean', default: false }, 'inp-model': { type: 'string' },
} });
if (!existsSync(DATA) || !existsSync(RESNET18)) {
  console.error(`bench:refine: skipped: ${DATA} or ${RESNET18} is absent (the evaluation data lives in ../shared, never in this repo)`);
  process.exit(0);
}
await useBackend('wasm');
const readBytes = async (f: string) => new Uint8Array(await readFile(f));
const holdout = Number(values.holdout);
const reals = values.real!.split(',').map(Number);
const steps = values.steps ? Number(values.steps) : undefined;
const weights = readPth(await readBytes(RESNET18), RESNET18);
const knnPre: PreprocessConfig = { protocol: 'annotate', resize: 224, crop: 224, mapSize: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const load = async (f: string) => decodeImage(await readBytes(f), f);
const rows: string[] = [];
const pct = (x: number) => (100 * x).toFixed(1);

for (const cat of values.categories!.split(',')) {
  const ds = await loadDataset(path.join(DATA, cat));
  const fitFiles = ds.train.slice(0, ds.train.length - holdout);
  const calFiles = ds.train.slice(ds.train.length - holdout);
  const t0 = performance.now();
  const inp = values['inp-model'] ? await loadModelFromPath(values['inp-model']) : undefined;
  if (inp && inp.content.kind !== 'inp-former') throw new Error(`${values['inp-model']}: not an INP-Former model folder`);
  const content: RefinableContent = inp
    ? inp.content as RefinableContent
    : (await fitKnnModel({ kind: 'resnet18', layers: ['layer1', 'layer2', 'layer3'], localAverage: true }, weights, 'resnet18', imageFiles(fitFiles, readBytes), { bundleEncoder: false })).content;
  const fitSeconds = (performance.now() - t0) / 1000;
  const detectorName = inp ? 'INP-Former' : 'kNN';
  // The INP-Former's own preprocessing, under the annotate protocol (masks at the image size) like the kNN's.
  const pre: PreprocessConfig = inp?.preprocess ? { ...inp.preprocess, protocol: 'annotate', resize: inputSize(inp.preprocess), crop: inputSize(inp.preprocess), mapSize: inputSize(inp.preprocess) } : knnPre;
  // Real masks for the semi-supervised rows: a seeded pick of defective test images; all rows are scored on the rest.
  const rand = seededRandom(7);
  const defective = ds.test.filter((it) => it.label === 1 && it.mask).map((it) => ({ it, r: rand() })).sort((a, b) => a.r - b.r).map((x) => x.it);
  const picked = defective.slice(0, Math.max(...reals));
  const evalSet = ds.test.filter((it) => !picked.includes(it));
  const normals = await Promise.all(fitFiles.map(load));
  const realDefects = await Promise.all(picked.map(async (it) => ({ image: await load(it.file), mask: binary(decodeMask(await readBytes(it.mask!), it.mask!)) })));

  const variants: Array<{ name: string; content: RefinableContent; seconds?: number; note?: string }> = [{ name: `raw ${detectorName}`, content }];
  for (const k of reals) {
    const job = await runRefineJob({
      content, preprocess: pre, ...(inp ? {} : { encoderWeights: weights }), where: `${cat} ${detectorName}`, normals, defects: realDefects.slice(0, k),
      train: { ...(steps ? { steps } : {}), onProgress: (s, n, loss) => { if (s % 50 === 0) console.error(`${cat} refine +${k}: step ${s}/${n} loss ${loss.toFixed(4)}`); } },
    });
    console.error(`${cat} refine +${k}: ${job.summary} (${job.seconds.train.toFixed(0)} s train, ${job.seconds.validate.toFixed(0)} s validate, keep ${job.selection.keep})`);
    variants.push({ name: k ? `refined, pseudo + ${k} real masks` : 'refined, pseudo-anomalies only', content: job.content, seconds: job.seconds.train + job.seconds.validate, note: `held-out pixel AP ${pct(job.selection.current.pixelAp)} → ${pct(job.selection.candidate.pixelAp)}, ${job.selection.keep === 'candidate' ? 'kept' : 'not kept'}` });
  }
  for (const v of variants) {
    const detector = createDetector(v.content, { preprocess: pre, ...(inp ? {} : { encoderWeights: weights }), where: v.name });
    const mapOf = async (f: string) => imageMap(detector, await load(f), pre, f);
    const cal: AnomalyMap[] = [];
    const calScores: number[] = [];
    for (const f of calFiles) { const r = await mapOf(f); cal.push(r.map); calScores.push(r.score); }
    const calibration = calibrateFromNormals(cal, calScores, { quantile: 1 });
    const maps: Float32Array[] = []; const masks: Uint8Array[] = []; const scores: number[] = []; const labels: number[] = [];
    const ious: number[] = [];
    let width = 0; let height = 0;
    for (const it of evalSet) {
      const r = await mapOf(it.file);
      ({ width, height } = r.map);
      const gt = it.mask ? binary(decodeMask(await readBytes(it.mask), it.mask)).data : new Uint8Array(width * height);
      maps.push(r.map.data); masks.push(gt); scores.push(r.score); labels.push(it.label);
      if (it.label === 1 && it.mask) {
        const p = proposeRegions(r.map, r.score, calibration, {});
        let inter = 0; let uni = 0;
        for (let i = 0; i < gt.length; i++) { const a = p.mask.data[i] === 1; const b = gt[i] === 1; if (a && b) inter++; if (a || b) uni++; }
        ious.push(uni ? inter / uni : 1);
      }
    }
    detector.dispose();
    const m = evaluateDetection({ imageScores: scores, imageLabels: labels, maps, masks, width, height });
    const iou = ious.reduce((a, b) => a + b, 0) / ious.length;
    const time = v.seconds !== undefined ? `${v.seconds.toFixed(0)} s` : inp ? 'trained before' : `fit ${fitSeconds.toFixed(0)} s`;
    const row = `| ${cat} | ${v.name} | ${pct(m.image_auroc)} | ${pct(m.pixel_auroc)} | ${pct(m.pixel_ap)} | ${pct(m.aupro)} | ${pct(iou)} | ${time} | ${v.note ?? ''} |`;
    console.log(row);
    rows.push(row);
  }
}

function binary(m: { width: number; height: number; data: Uint8Array }) {
  return { width: m.width, height: m.height, data: m.data.map((v) => (v > 127 ? 1 : 0)) };
}

if (!values['no-report']) {
  const load1 = os.loadavg()[0].toFixed(1);
  replaceSection(values['inp-model'] ? 'refine-inp' : 'refine', [
    `Command: \`npm run bench:refine\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), load ${load1} at the end · tfjs wasm, Node ${process.version}.`,
    `${values['inp-model'] ? `INP-Former from \`${values['inp-model']}\` (trained on train/good minus a ${holdout}-image tail), under the annotate protocol at its input size` : `kNN on ResNet-18 layer1+2+3 fitted on train/good minus a ${holdout}-image tail`}; that tail calibrates the proposals' threshold (its maximum pixel score, image gate at its maximum score) for every row, each with its own map. Refinement (\`runRefineJob\`, what \`inp-former refine\` runs): every 4th fit normal held out, a head trained on pseudo-anomalies of the rest (+ k real masks, every 4th of those held out too), then judged on the held-out images. Real masks: a seeded pick of ${Math.max(...reals)} defective test images; every row is scored on the test set minus those. Time: train + held-out validation.`,
    '',
    '| category | map | image AUROC | pixel AUROC | pixel AP | AUPRO | proposals mean IoU % | time | selection |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'));
}
