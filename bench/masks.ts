/**
 * npm run bench:masks — how good the proposals are on ../shared/data/mvtec256 with the normals-only threshold:
 * the share of normal test images that get no mask, and the IoU of proposed vs true masks on defective images.
 * Model: the training-free kNN (ResNet-18 layer1+2+3, the best encoder of bench:quality) fitted on train/good minus
 * a held-out tail that calibrates the threshold (quantile 1 = their maximum, image gate at their maximum score).
 * Options: --categories bottle,screw --holdout 30 --region-level off,0.5,default (rows per level on the same maps; default: the
 * proposals' default level only)
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { imageMap } from '../src/pipeline/image-map.ts';
import { DEFAULT_REGION_LEVEL, proposeRegions } from '../src/annotate/proposals.ts';
import { readPth } from '../src/checkpoint/pth.ts';
import { createDetector } from '../src/pipeline/detector.ts';
import { loadDataset } from '../src/platform/node/dataset.ts';
import { decodeImage, decodeMask } from '../src/image/decode.ts';
import { fitKnnModel, imageFiles } from '../src/knn/fit-model.ts';
import { useBackend } from '../src/runtime/backend.ts';
import { calibrateFromNormals } from '../src/threshold/strategies.ts';
import type { AnomalyMap, PreprocessConfig } from '../src/types.ts';
import { replaceSection } from './report.ts';

const SHARED = path.resolve(import.meta.dirname, '../../shared');
const DATA = path.join(SHARED, 'data/mvtec256');
const RESNET18 = path.join(SHARED, 'fixtures/resnet18/resnet18-imagenet-l3.pth');
const { values } = parseArgs({ options: { categories: { type: 'string', default: 'bottle' }, holdout: { type: 'string', default: '30' }, quantile: { type: 'string', default: '1' }, 'region-level': { type: 'string' } } });
if (!existsSync(DATA) || !existsSync(RESNET18)) {
  console.error(`bench:masks: skipped: ${DATA} or ${RESNET18} is absent (the evaluation data lives in ../shared, never in this repo)`);
  process.exit(0);
}
await useBackend('wasm');
const readBytes = async (f: string) => new Uint8Array(await readFile(f));
const holdout = Number(values.holdout);
const q = Number(values.quantile);
// undefined = the proposals' default; a list compares levels on the same maps.
const levels: (number | false | undefined)[] = values['region-level'] ? values['region-level'].split(',').map((v) => (v === 'off' ? false : v === 'default' ? undefined : Number(v))) : [undefined];
const weights = readPth(await readBytes(RESNET18), RESNET18);
const rows: string[] = [];
for (const cat of values.categories!.split(',')) {
  const ds = await loadDataset(path.join(DATA, cat));
  const fitFiles = ds.train.slice(0, ds.train.length - holdout);
  const calFiles = ds.train.slice(ds.train.length - holdout);
  const { content } = await fitKnnModel({ kind: 'resnet18', layers: ['layer1', 'layer2', 'layer3'], localAverage: true }, weights, 'resnet18', imageFiles(fitFiles, readBytes), { bundleEncoder: false });
  // Masks at the image's own size, as the annotator sees them.
  const pre: PreprocessConfig = { protocol: 'annotate', resize: 224, crop: 224, mapSize: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const detector = createDetector(content, { preprocess: pre, encoderWeights: weights, where: 'knn' });
  const mapOf = async (f: string) => imageMap(detector, decodeImage(await readBytes(f), f), pre, f);
  const cal: AnomalyMap[] = [];
  const calScores: number[] = [];
  for (const f of calFiles) { const r = await mapOf(f); cal.push(r.map); calScores.push(r.score); }
  const calibration = calibrateFromNormals(cal, calScores, { quantile: q });
  const t0 = performance.now();
  const tests = [];
  for (const it of ds.test) tests.push({ ...it, r: await mapOf(it.file), gt: it.mask ? decodeMask(await readBytes(it.mask), it.mask) : undefined });
  const ms = (performance.now() - t0) / ds.test.length;
  detector.dispose();
  for (const level of levels) {
    let normals = 0; let clean = 0; const ious: number[] = []; const precisions: number[] = []; const recalls: number[] = []; let defective = 0; let flagged = 0;
    for (const it of tests) {
      const p = proposeRegions(it.r.map, it.r.score, calibration, level === undefined ? {} : { regionLevel: level });
      if (it.label === 0) { normals++; if (!p.regions.length) clean++; continue; }
      defective++;
      if (p.regions.length) flagged++;
      if (!it.gt) continue;
      let inter = 0; let uni = 0;
      for (let i = 0; i < it.gt.data.length; i++) { const a = p.mask.data[i] === 1; const b = it.gt.data[i] > 127; if (a && b) inter++; if (a || b) uni++; }
      ious.push(uni ? inter / uni : 1);
      const marked = p.mask.data.reduce((n, v) => n + v, 0);
      const truth = uni - marked + inter;
      if (marked) precisions.push(inter / marked);
      recalls.push(truth ? inter / truth : 1);
    }
    const mean = (xs: number[]) => (xs.length ? (100 * xs.reduce((a, b) => a + b, 0)) / xs.length : NaN).toFixed(1);
    const pct = (a: number, b: number) => `${a}/${b} (${((100 * a) / b).toFixed(1)} %)`;
    const row = `| ${cat} | ${holdout} held-out train normals, quantile ${q} | ${level === undefined ? `default (${DEFAULT_REGION_LEVEL === false ? 'off' : DEFAULT_REGION_LEVEL})` : level === false ? 'off' : level} | ${pct(clean, normals)} | ${pct(flagged, defective)} | ${mean(ious)} (${ious.length} masks) | ${mean(precisions)} / ${mean(recalls)} | ${ms.toFixed(0)} |`;
    console.log(row);
    rows.push(row);
  }
}
replaceSection('masks-knn', [
  `Command: \`npm run bench:masks\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}) · tfjs wasm, Node ${process.version}.`,
  'Proposals with the normals-only threshold (what a user has at the start): kNN on ResNet-18 layer1+2+3 fitted on train/good minus a held-out tail, threshold = that tail\'s maximum pixel score, image gate = its maximum image score; masks at the image size (`--protocol annotate`), map > threshold, each region fitted to its peak level (`regionLevel`: the pixels connected to its peak above background + level · (peak − background), background = the image\'s median score; off = exactly map > threshold), no cleaning. IoU of the proposed mask (union of regions) vs the true mask, averaged over defective images with masks (0 when nothing is proposed); pixel precision over those with a proposal, recall over all of them.',
  '',
  '| category | calibration | region level | normal test images with no mask | defective images with a proposal | mean IoU % | mean pixel precision / recall % | ms/img |',
  '|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n'));
