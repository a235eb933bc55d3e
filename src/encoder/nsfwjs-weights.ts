import { CheckpointError } from '../errors.ts';
import type { TensorMap } from '../types.ts';

/**
 * The nsfwjs npm package (MIT) ships each TF.js layers model as browserify bundles: `model.min.js` exports the
 * model.json object (as a JS object literal: unquoted keys, `!0`/`!1`, `.5`) and each `group1-shardNofM.min.js`
 * exports one weight shard as a base64 string. We parse those literals instead of evaluating the files, so the
 * same code reads them from bytes in the browser and in Node and never runs code from a data file.
 */

export interface NsfwjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

/** tf.io.ModelArtifacts-shaped, so the original model can also be loaded with tf.loadLayersModel. */
export interface NsfwjsBundle {
  modelTopology: object;
  weightSpecs: NsfwjsWeightSpec[];
  /** Every shard concatenated in manifest order: the weights' quantised bytes, back to back. */
  weightData: Uint8Array;
}

type Literal = string | number | boolean | null | Literal[] | { [k: string]: Literal };

/** A recursive-descent reader for the JSON-like subset that minifiers emit for data. */
function parseLiteral(s: string, start: number, where: string): { value: Literal; end: number } {
  let i = start;
  const fail = (what: string): never => { throw new CheckpointError(where, `unexpected ${what} at offset ${i} (not an exported data literal)`); };
  const skip = () => { while (/\s/.test(s[i] ?? '')) i++; };
  const expect = (c: string) => { skip(); if (s[i] !== c) fail(`${JSON.stringify(s.slice(i, i + 12))}, expected "${c}"`); i++; };
  const str = (): string => {
    const q = s[i];
    const close = s.indexOf(q, i + 1);
    if (close < 0) fail('unterminated string');
    const raw = s.slice(i + 1, close);
    // Escapes never occur in these bundles; refusing them keeps the reader small and exact.
    if (raw.includes('\\')) fail('escape in a string');
    i = close + 1;
    return raw;
  };
  const value = (): Literal => {
    skip();
    const c = s[i];
    if (c === '{') {
      i++;
      const o: { [k: string]: Literal } = {};
      skip();
      if (s[i] === '}') { i++; return o; }
      for (;;) {
        skip();
        let key: string;
        if (s[i] === '"' || s[i] === "'") key = str();
        else {
          const m = /^[A-Za-z_$][\w$]*/.exec(s.slice(i, i + 256));
          if (!m) fail('object key');
          key = m![0];
          i += key.length;
        }
        expect(':');
        o[key] = value();
        skip();
        if (s[i] === ',') { i++; continue; }
        expect('}');
        return o;
      }
    }
    if (c === '[') {
      i++;
      const a: Literal[] = [];
      skip();
      if (s[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value());
        skip();
        if (s[i] === ',') { i++; continue; }
        expect(']');
        return a;
      }
    }
    if (c === '"' || c === "'") return str();
    // Minifiers write true/false as !0/!1.
    if (s.startsWith('!0', i)) { i += 2; return true; }
    if (s.startsWith('!1', i)) { i += 2; return false; }
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (s.startsWith(word, i)) { i += word.length; return v; }
    }
    const m = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(s.slice(i, i + 64));
    if (!m) return fail(JSON.stringify(s.slice(i, i + 12)));
    i += m[0].length;
    return Number(m[0]);
  };
  const v = value();
  return { value: v, end: i };
}

/** The value a browserify bundle's module 1 assigns to `module.exports`. */
function exportedLiteral(js: string, where: string): Literal {
  const m = /\{1:\[function\(\w+,(\w+),\w+\)\{\1\.exports=/.exec(js);
  if (!m) throw new CheckpointError(where, 'not an nsfwjs model bundle (no browserify module exporting data)');
  const { value, end } = parseLiteral(js, m.index + m[0].length, where);
  if (js[end] !== '}') throw new CheckpointError(where, `the exported literal is followed by code at offset ${end}`);
  return value;
}

function base64Bytes(b64: string, where: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    throw new CheckpointError(where, 'the weight shard is not valid base64');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Reads an nsfwjs model bundle: `modelJs` is the text of `model.min.js`; `readShard` returns the text of a shard
 * file (`<path>.min.js` for each path of the weights manifest, in order): fs in Node, fetch in the browser.
 */
export async function loadNsfwjsBundle(modelJs: string, readShard: (file: string) => string | Promise<string>, where: string): Promise<NsfwjsBundle> {
  const model = exportedLiteral(modelJs, where) as { modelTopology?: object; weightsManifest?: Array<{ paths: string[]; weights: NsfwjsWeightSpec[] }> };
  if (!model || typeof model !== 'object' || !model.modelTopology || !Array.isArray(model.weightsManifest)) {
    throw new CheckpointError(where, 'the exported object has no modelTopology / weightsManifest');
  }
  const shards: Uint8Array[] = [];
  for (const file of model.weightsManifest.flatMap((g) => g.paths.map((p) => `${p}.min.js`))) {
    const b64 = exportedLiteral(await readShard(file), file);
    if (typeof b64 !== 'string') throw new CheckpointError(file, 'the shard does not export a base64 string');
    shards.push(base64Bytes(b64, file));
  }
  const weightData = new Uint8Array(shards.reduce((a, s) => a + s.length, 0));
  shards.reduce((off, s) => { weightData.set(s, off); return off + s.length; }, 0);
  return { modelTopology: model.modelTopology, weightSpecs: model.weightsManifest.flatMap((g) => g.weights), weightData };
}

/**
 * Dequantised float32 weights under their Keras names (`block_2_expand/kernel`, `bn_Conv1/gamma`, …).
 * uint8 weights decode as q·scale + min, computed exactly as tfjs's decodeWeights does, so these are the values
 * nsfwjs itself runs with.
 */
export function nsfwjsTensors(b: NsfwjsBundle, where: string): TensorMap {
  const out: TensorMap = new Map();
  let off = 0;
  for (const w of b.weightSpecs) {
    const n = w.shape.reduce((a, d) => a * d, 1);
    const q = w.quantization;
    if (w.dtype !== 'float32' || (q && (q.dtype !== 'uint8' || q.scale === undefined || q.min === undefined))) {
      throw new CheckpointError(`${where}: ${w.name}`, `unsupported weight encoding ${w.dtype}${q ? `/${q.dtype}` : ''}`);
    }
    const bytes = q ? n : 4 * n;
    if (off + bytes > b.weightData.length) {
      throw new CheckpointError(`${where}: ${w.name}`, `the shards end at byte ${b.weightData.length}, before this tensor's ${bytes} bytes`);
    }
    const data = new Float32Array(n);
    if (q) {
      for (let i = 0; i < n; i++) data[i] = b.weightData[off + i] * q.scale! + q.min!;
    } else {
      new Uint8Array(data.buffer).set(b.weightData.subarray(off, off + bytes));
    }
    out.set(w.name, { dtype: 'F32', shape: w.shape, data });
    off += bytes;
  }
  if (off !== b.weightData.length) throw new CheckpointError(where, `the shards hold ${b.weightData.length} bytes, the manifest describes ${off}`);
  return out;
}
