/** bench:explore, step 1: caches a category's train and test tokens (ResNet-18 layer1+2+3, or `nsfwjs` blocks 2+5+9; 28×28, 3×3-averaged) and its test labels and masks in /tmp/exp, for bench/explore-train.ts. Usage: tsx bench/explore-encode.ts <category> [resnet18|nsfwjs]. */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readPth } from '../src/checkpoint/pth.ts';
import { createPatchEncoder } from '../src/encoder/patch-encoder.ts';
import { cnnPreprocess } from '../src/encoder/cnn-config.ts';
import { loadDataset } from '../src/platform/node/dataset.ts';
import { decodeImage, decodeMask } from '../src/image/decode.ts';
import { preprocess, stackBatch } from '../src/preprocess/preprocess.ts';
import { preprocessMask } from '../src/preprocess/mask.ts';
import { useBackend } from '../src/runtime/backend.ts';
import { nsfwjsWeights } from '../integrations/cli/detector-io.ts';

const cat = process.argv[2];
const enc = process.argv[3] ?? 'resnet18';
const out = `/tmp/exp/${cat}-${enc}`;
await useBackend('wasm');
const config = enc === 'resnet18' ? { kind: 'resnet18' as const, layers: ['layer1', 'layer2', 'layer3'], localAverage: true, grid: 28 }
  : { kind: 'nsfwjs-mobilenetv2' as const, layers: ['block_2', 'block_5', 'block_9'], localAverage: true, grid: 28 };
const weights = enc === 'resnet18' ? readPth(new Uint8Array(readFileSync(path.resolve(import.meta.dirname, '../../shared/fixtures/resnet18/resnet18-imagenet-l3.pth'))), 'r18') : await nsfwjsWeights();
const encoder = createPatchEncoder(config, weights, enc);
const pre = cnnPreprocess(config.kind, 224);
const ds = await loadDataset(path.resolve(import.meta.dirname, `../../shared/data/mvtec256/${cat}`));
async function encodeAll(files: string[], name: string) {
  const chunks: Float32Array[] = [];
  for (let i = 0; i < files.length; i += 8) {
    const items = files.slice(i, i + 8).map((f) => preprocess(decodeImage(new Uint8Array(readFileSync(f)), f), pre, undefined, f));
    const b = stackBatch(items);
    const x = tf.tensor4d(b.data, b.shape);
    const r = encoder.encode(x);
    chunks.push((await r.tokens.data()) as Float32Array);
    tf.dispose([x, r.tokens]);
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const all = new Float32Array(total);
  let o = 0; for (const c of chunks) { all.set(c, o); o += c.length; }
  writeFileSync(`${out}-${name}.f32`, all);
  console.log(name, files.length, all.length / files.length / 784);
}
if (!existsSync(`${out}-train.f32`)) await encodeAll(ds.train, 'train');
await encodeAll(ds.test.map((t) => t.file), 'test');
const masks = ds.test.map((t) => {
  if (!t.mask) return null;
  const m = decodeMask(new Uint8Array(readFileSync(t.mask)), t.mask);
  return Array.from(preprocessMask(m, pre, t.mask).data as Uint8Array);
});
writeFileSync(`${out}-meta.json`, JSON.stringify({ labels: ds.test.map((t) => t.label), types: ds.test.map((t) => t.type), masks: masks.map((m) => (m ? Buffer.from(Uint8Array.from(m)).toString('base64') : null)), channels: config.kind === 'resnet18' ? [64, 128, 256] : [24, 32, 64] }));
