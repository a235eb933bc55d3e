/**
 * npm run bench:quality — the training-free kNN detector on ../shared/data/mvtec256 (bottle, screw, capsule) for
 * each encoder we can run here, with the paper's metrics and ms per image; writes the table into BENCHMARKS.md.
 * Recipe of the data README's reference rows: 224 input, 3×3 neighbourhood average, image score = map max.
 * Options: --categories bottle,screw --encoders r18-123,nsfwjs --coreset 0.01
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readPth } from '../src/checkpoint/pth.ts';
import { createDetector } from '../src/pipeline/detector.ts';
import { evaluateItems } from '../src/evaluation/evaluate-dataset.ts';
import { loadDataset } from '../src/platform/node/dataset.ts';
import { fitKnnModel, imageFiles } from '../src/knn/fit-model.ts';
import { useBackend } from '../src/runtime/backend.ts';
import type { CnnEncoderConfig, TensorMap } from '../src/types.ts';
import { nsfwjsWeights } from '../integrations/cli/detector-io.ts';
import { replaceSection } from './report.ts';

const SHARED = path.resolve(import.meta.dirname, '../../shared');
const DATA = path.join(SHARED, 'data/mvtec256');
const RESNET18 = path.join(SHARED, 'fixtures/resnet18/resnet18-imagenet-l3.pth');

const ENCODERS: Record<string, { label: string; config: CnnEncoderConfig }> = {
  'r18-123': { label: 'ResNet-18 layer1+2+3', config: { kind: 'resnet18', layers: ['layer1', 'layer2', 'layer3'], localAverage: true } },
  'r18-2': { label: 'ResNet-18 layer2', config: { kind: 'resnet18', layers: ['layer2'], localAverage: true } },
  'r18-23': { label: 'ResNet-18 layer2+3', config: { kind: 'resnet18', layers: ['layer2', 'layer3'], localAverage: true } },
  nsfwjs: { label: 'nsfwjs MobileNetV2 blocks 2+5+9', config: { kind: 'nsfwjs-mobilenetv2', layers: ['block_2', 'block_5', 'block_9'], localAverage: true } },
};

const { values } = parseArgs({ options: {
  categories: { type: 'string', default: 'bottle,screw,capsule' }, encoders: { type: 'string', default: Object.keys(ENCODERS).join(',') },
  coreset: { type: 'string', default: '0.01' },
} });
if (!existsSync(DATA) || !existsSync(RESNET18)) {
  console.error(`bench:quality: skipped: ${DATA} or ${RESNET18} is absent (the evaluation data lives in ../shared, never in this repo)`);
  process.exit(0);
}
await useBackend('wasm');
const coresetRatio = Number(values.coreset);
const readBytes = async (f: string) => new Uint8Array(await readFile(f));
const weightsOf = async (c: CnnEncoderConfig): Promise<TensorMap> => (c.kind === 'nsfwjs-mobilenetv2' ? nsfwjsWeights() : readPth(await readBytes(RESNET18), RESNET18));
const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(1) : '—');

const rows: string[] = [];
for (const cat of values.categories!.split(',')) {
  const ds = await loadDataset(path.join(DATA, cat));
  for (const key of values.encoders!.split(',')) {
    const enc = ENCODERS[key];
    if (!enc) throw new Error(`unknown encoder "${key}" (known: ${Object.keys(ENCODERS).join(', ')})`);
    const weights = await weightsOf(enc.config);
    const t0 = performance.now();
    const { content, preprocess } = await fitKnnModel(enc.config, weights, key, imageFiles(ds.train, readBytes), { coresetRatio, bundleEncoder: false });
    const fitS = (performance.now() - t0) / 1000;
    const detector = createDetector(content, { preprocess, encoderWeights: weights, where: key });
    const e = await evaluateItems(detector, ds.test, preprocess, { readBytes });
    detector.dispose();
    const m = e.metrics;
    const row = `| ${cat} | ${enc.label} | ${pct(m.image_auroc)} | ${pct(m.image_ap)} | ${pct(m.image_f1max)} | ${pct(m.pixel_auroc)} | ${pct(m.pixel_ap)} | ${pct(m.pixel_f1max)} | ${pct(m.aupro)} | ${e.ms_per_image.toFixed(0)} | ${content.knn.bankSize} | ${fitS.toFixed(0)} |`;
    console.log(row);
    rows.push(row);
  }
}
const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
replaceSection('quality-knn', [
  `Command: \`npm run bench:quality\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${cpu}) · tfjs wasm, Node ${process.version}.`,
  `Training-free kNN (PatchCore-style) on \`../shared/data/mvtec256\`: 224×224 input, 3×3 neighbourhood average, tokens on the 28×28 grid, greedy coreset ${coresetRatio * 100} % of the normal tokens, image score = max of the σ=4 smoothed map; metrics in %, pooled over the category's test set ("—": no masks, image-level only). ms/img: model time per test image (encoder + search + map), batch 1.`,
  '',
  '| category | encoder | I-AUROC | I-AP | I-F1max | P-AUROC | P-AP | P-F1max | AUPRO | ms/img | bank | fit s |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n'));
