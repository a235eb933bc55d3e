/**
 * npm run bench:explore — the harness the CNN recipe was chosen with (src/train/recipe.ts): trains an INP-Former head
 * on tokens cached by bench/explore-encode.ts (ResNet-18 layer1+2+3 of a category's train and test images, in
 * /tmp/exp) with one variant, single-threaded, and prints image / pixel AUROC, AUPRO and pixel AP every `every`
 * steps. Arguments key=value: cat, st (stages 1,2,3), std (none | chan | center: per-channel standardisation from
 * the normals), heads, inp, depth, ratio, steps, batch, lr, flr, warm, every, grid (28 | 14), top (image-score
 * ratio), sub (first N normals), px=0 (image metrics only), init (id | ref | km: head start, see below), e0=1 (evaluate
 * before the first step), tops (image AUROC under other image scores, e.g. 0.01,0.001,0 = top-1 %, top-0.1 %, max). Not the user's path: the targets are measured by bench:train.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initHead } from '../src/inp-former/init.ts';
import { finishMap, reconstructionMap } from '../src/map/anomaly-map.ts';
import { evaluateDetection } from '../src/metrics/evaluate.ts';
import { useBackend } from '../src/runtime/backend.ts';
import { headForward } from '../src/inp-former/model.ts';
import { inpFormerLoss } from '../src/train/loss.ts';
import { applyGradients, createOptimizerState, createTrainableHead } from '../src/train/step.ts';
import { warmCosineLr } from '../src/train/schedule.ts';
import { epochOrder } from '../src/train/trainer.ts';
import type { InpFormerConfig } from '../src/types.ts';
import type { HeadParams } from '../src/inp-former/weights.ts';

const a = Object.fromEntries(process.argv.slice(2).map((s) => s.split('=')));
const cat = a.cat ?? 'screw', enc = a.enc ?? 'resnet18';
const stages = (a.st ?? '1,2,3').split(',').map(Number);
const std = a.std ?? 'chan';
const depth = Number(a.depth ?? 4), ratio = Number(a.ratio ?? 4);
const steps = Number(a.steps ?? 200), batch = Number(a.batch ?? 8), lr = Number(a.lr ?? 2e-3), warm = Number(a.warm ?? 20);
const evalEvery = Number(a.every ?? 100), grid = Number(a.grid ?? 28), pca = Number(a.pca ?? 0), topRatio = Number(a.top ?? 0.01);
const finalLr = Number(a.flr ?? lr / 10), inpCount = Number(a.inp ?? 6), sub = Number(a.sub ?? 0);
await useBackend('wasm');
const meta: { labels: number[]; masks: (string | null)[]; channels: number[] } = JSON.parse(readFileSync(`/tmp/exp/${cat}-${enc}-meta.json`, 'utf8'));
const full: number = meta.channels.reduce((x: number, y: number) => x + y, 0);
const ranges: Array<[number, number]> = stages.map((s: number) => { const o = meta.channels.slice(0, s - 1).reduce((x: number, y: number) => x + y, 0); return [o, o + meta.channels[s - 1]] as [number, number]; });
function load(name: string): Float32Array[] {
  const buf = readFileSync(`/tmp/exp/${cat}-${enc}-${name}.f32`);
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const per = 784 * full; const n = all.length / per; const C = ranges.reduce((sum, [x, y]) => sum + y - x, 0);
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const o = new Float32Array(784 * C);
    for (let t = 0; t < 784; t++) { let c = 0; for (const [x, y] of ranges) { o.set(all.subarray(i * per + t * full + x, i * per + t * full + y), t * C + c); c += y - x; } }
    out.push(o);
  }
  return out;
}
let train = load('train'); let test = load('test');
if (sub) train = train.slice(0, sub);
let C = train[0].length / 784;
// per-channel standardisation from the normals
let transform = (x: tf.Tensor3D) => x;
if (std !== 'none') {
  const mean = new Float64Array(C), sq = new Float64Array(C); let n = 0;
  for (const f of train) for (let t = 0; t < 784; t++) { n++; for (let c = 0; c < C; c++) { const v = f[t * C + c]; mean[c] += v; sq[c] += v * v; } }
  const m = Float32Array.from(mean, (v) => v / n); const s = Float32Array.from(sq, (v, c) => Math.sqrt(Math.max(v / n - m[c] * m[c], 0)) + 1e-6);
  const mt = tf.tensor1d(m), st = tf.tensor1d(s);
  if (std === 'chan') transform = (x) => tf.tidy(() => tf.div(tf.sub(x, mt), st) as tf.Tensor3D);
  else if (std === 'center') transform = (x) => tf.tidy(() => tf.sub(x, mt) as tf.Tensor3D);
  else if (std === 'stage') { // per-stage scale only: each stage to unit mean-norm
    transform = (x) => tf.tidy(() => tf.div(tf.sub(x, mt), st) as tf.Tensor3D);
  }
}
const pool = (x: tf.Tensor3D) => grid === 28 ? x : tf.tidy(() => tf.avgPool(x.reshape([-1, 28, 28, C]) as tf.Tensor4D, 28 / grid, 28 / grid, 'valid').reshape([-1, grid * grid, C]) as tf.Tensor3D);
const N = grid * grid;
const heads = a.heads ? Number(a.heads) : [8, 7, 6, 5, 4, 3, 2, 1].find((h) => C % h === 0 && C / h >= 32) ?? 1;
const config: InpFormerConfig = { architecture: 'inp-former', encoder: { kind: 'resnet18', layers: ['layer2'], localAverage: true }, embedDim: C, numHeads: heads, inpCount, decoderDepth: depth, targetLayers: [0], fuseEncoder: [[0]], fuseDecoder: [Array.from({ length: depth }, (_, i) => i)], mlpRatio: ratio, lnEps: 1e-8 };
// init=ref (default): the official start. init=id: plus the identity on every attention projection and a bottleneck
// that passes its input (gelu(x) − gelu(−x) = x), so a token starts rebuilt from the INPs it resembles; better early
// (screw 63.1 at step 0, 65.3 at 100 against 61.3) but worse after the recipe's 380 steps (bench:train: 72.3 against
// 82.5), so not adopted. init=km: identity plus INP tokens at k-means centroids of the normals' tokens (worse).
const initMap = initHead(config, 1);
if (a.init === 'id' || a.init === 'km') {
  const eye = (k: string, rows: number) => {
    const t = initMap.get(k)!; const d = t.data as Float32Array; const cols = t.shape[1];
    for (let r = 0; r < rows; r++) d[r * cols + (r % cols)] += 1;
  };
  for (const p of ['aggregation.0', ...Array.from({ length: depth }, (_, i) => `decoder.${i}`)]) {
    eye(`${p}.attn.q.weight`, C); eye(`${p}.attn.kv.weight`, 2 * C); eye(`${p}.attn.proj.weight`, C);
  }
  const H = C * ratio; const f1 = initMap.get('bottleneck.0.fc1.weight')!.data as Float32Array; const f2 = initMap.get('bottleneck.0.fc2.weight')!.data as Float32Array;
  for (let c = 0; c < C; c++) { f1[c * C + c] += 1; f1[(C + c) * C + c] -= 1; f2[c * H + c] += 1; f2[c * H + C + c] -= 1; }
}
if (a.init === 'km') {
  const rnd = (() => { let s = 7; return () => { s = (s * 16807) % 2147483647; return s / 2147483647; }; })();
  const S = 20000; const pts = new Float32Array(S * C);
  for (let i = 0; i < S; i++) { const f = train[Math.floor(rnd() * train.length)]; const t = Math.floor(rnd() * 784); pts.set(f.subarray(t * C, t * C + C), i * C); }
  const cen = new Float32Array(inpCount * C);
  for (let m = 0; m < inpCount; m++) { const o = Math.floor(rnd() * S) * C; cen.set(pts.subarray(o, o + C), m * C); }
  for (let it = 0; it < 15; it++) {
    const sum = new Float64Array(inpCount * C), cnt = new Float64Array(inpCount);
    for (let i = 0; i < S; i++) {
      let best = 0, bd = Infinity;
      for (let m = 0; m < inpCount; m++) { let d = 0; for (let c = 0; c < C; c++) { const v = pts[i * C + c] - cen[m * C + c]; d += v * v; } if (d < bd) { bd = d; best = m; } }
      cnt[best]++; for (let c = 0; c < C; c++) sum[best * C + c] += pts[i * C + c];
    }
    for (let m = 0; m < inpCount; m++) if (cnt[m]) for (let c = 0; c < C; c++) cen[m * C + c] = sum[m * C + c] / cnt[m];
  }
  (initMap.get('prototype_token')!.data as Float32Array).set(cen);
}
const h = createTrainableHead(initMap, config, 'full');
const opt = createOptimizerState(h);
const up = (idx: number[], src: Float32Array[]) => tf.tidy(() => {
  const buf = new Float32Array(idx.length * 784 * C); idx.forEach((k, j) => buf.set(src[k], j * 784 * C));
  return pool(transform(tf.tensor3d(buf, [idx.length, 784, C])));
});
const forward = (p: HeadParams, layers: tf.Tensor3D[]) => headForward(p, layers, config);
async function evaluate(step: number) {
  const scores: number[] = []; const maps: Float32Array[] = [];
  for (let i = 0; i < test.length; i += 8) {
    const idx = Array.from({ length: Math.min(8, test.length - i) }, (_, j) => i + j);
    const { map, score } = tf.tidy(() => {
      const x = up(idx, test);
      const out = forward(h.head, [x]);
      return finishMap(reconstructionMap(out.en, out.de, grid, grid), { inputSize: [224, 224], mapSize: [224, 224], topRatio });
    });
    const d = (await map.data()) as Float32Array; const s = await score.data();
    idx.forEach((_, j) => { maps.push(d.slice(j * 224 * 224, (j + 1) * 224 * 224)); scores.push(s[j]); });
    tf.dispose([map, score]);
  }
  const masks = meta.masks.map((m, i) => (m ? new Uint8Array(Buffer.from(m, 'base64')) : meta.labels[i] === 0 ? new Uint8Array(224 * 224) : null));
  const hasMasks = masks.some((m, i) => m && meta.labels[i] === 1);
  const r = evaluateDetection({ imageScores: scores, imageLabels: meta.labels, ...(hasMasks && a.px !== '0' ? { maps, masks, width: 224, height: 224 } : {}) });
  // tops=0.01,0.001,0: image AUROC of the same maps with other image scores (mean of the top ratio; 0 = the max).
  if (a.tops) {
    const line = String(a.tops).split(',').map((t) => {
      const ratio = Number(t);
      const top = maps.map((m) => { const k = Math.max(1, Math.floor(m.length * ratio)); const s = Float32Array.from(m).sort(); let sum = 0; for (let i = s.length - k; i < s.length; i++) sum += s[i]; return sum / k; });
      return `top ${t}: I ${(100 * evaluateDetection({ imageScores: top, imageLabels: meta.labels }).image_auroc).toFixed(1)}`;
    });
    console.log(`TOPS step ${step} ${line.join(' · ')}`);
  }
  const f = (v: number) => (100 * v).toFixed(1);
  console.log(`RESULT ${JSON.stringify(a)} step ${step} I ${f(r.image_auroc)} P ${f(r.pixel_auroc)} PRO ${f(r.aupro)} PAP ${f(r.pixel_ap)} t ${((performance.now() - t0) / 1000).toFixed(0)}s`);
}
const t0 = performance.now();
if (a.e0) await evaluate(0);
let tw = t0;
const schedule = { base: lr, final: finalLr, total: steps, warmup: warm };
const perEpoch = Math.floor(train.length / batch);
for (let step = 0; step < steps; step++) {
  const e = Math.floor(step / perEpoch); const pos = (step % perEpoch) * batch;
  const idx = epochOrder(train.length, 1, e, true).slice(pos, pos + batch);
  const x = up(idx, train);
  const vars = h.trained.map((p) => p.tensor as tf.Variable);
  let lossV = 0;
  const r = tf.variableGrads(() => { const t = inpFormerLoss(forward(h.head, [x])); lossV = 0; return t.loss; }, vars);
  lossV = (await r.value.data())[0]; r.value.dispose(); x.dispose();
  const norm = applyGradients(h, opt, vars.map((v) => r.grads[v.name]), warmCosineLr(step, schedule));
  norm.dispose();
  if ((step + 1) % 20 === 0) { console.log(`step ${step + 1} loss ${lossV.toFixed(4)} ${((performance.now() - tw) / 20 / 1000).toFixed(2)} s/step tensors ${tf.memory().numTensors}`); tw = performance.now(); }
  if ((step + 1) % evalEvery === 0 || step + 1 === steps) await evaluate(step + 1);
}
