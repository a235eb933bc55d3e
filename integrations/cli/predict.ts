import path from 'node:path';
import { InputError } from '../../src/errors.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { encodeNpy } from '../../src/io/npy.ts';
import { ensureOutputDir, writeFileAtomic } from '../../src/platform/node/files.ts';
import { OFFICIAL_PREPROCESS, preprocess, stackBatch, validatePreprocess, type Preprocessed } from '../../src/preprocess/preprocess.ts';
import type { PreprocessConfig } from '../../src/types.ts';
import { choice, intFlag, parse, required } from './args.ts';
import { loadDetector, startBackend } from './detector-io.ts';
import { collectImages, inputFailures, readInput, stemsOf } from './images.ts';
import { configOverrides, CONFIG_FLAGS, REFINE_FLAGS, REFINE_USAGE } from './model-flags.ts';
import { progressReporter } from './progress.ts';

export const PREPROCESS_FLAGS = {
  protocol: { type: 'string' }, resize: { type: 'string' }, crop: { type: 'string' }, 'map-size': { type: 'string' },
} as const;

/** Flags over the model's saved preprocessing (or the official defaults). */
export function preprocessFromFlags(v: Record<string, unknown>, base: PreprocessConfig = OFFICIAL_PREPROCESS): PreprocessConfig {
  const protocol = choice(v.protocol as string | undefined, 'protocol', ['official', 'annotate'] as const, base.protocol);
  return {
    ...base, protocol,
    resize: intFlag(v.resize as string | undefined, 'resize', base.resize),
    crop: intFlag(v.crop as string | undefined, 'crop', base.crop),
    mapSize: intFlag(v['map-size'] as string | undefined, 'map-size', base.mapSize),
  };
}

export const command = {
  summary: 'Anomaly scores (and maps) of images with a model (INP-Former or kNN).',
  usage: `-m <model-dir|checkpoint> <images or folders…> -o <out-dir> [--protocol official|annotate] [--resize N --crop N] [--map-size N] [--zero-shot] [--save-maps] [--backend onnx|wasm|cpu|webgpu] [--batch N] ${REFINE_USAGE}`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {
      model: { type: 'string', short: 'm' }, output: { type: 'string', short: 'o' }, 'zero-shot': { type: 'boolean' },
      'save-maps': { type: 'boolean' }, backend: { type: 'string' }, batch: { type: 'string' }, ...PREPROCESS_FLAGS, ...CONFIG_FLAGS, ...REFINE_FLAGS,
    });
    const modelPath = required(values.model, 'model (-m)');
    const outDir = required(values.output, 'output (-o)');
    const batch = intFlag(values.batch, 'batch', 1);
    const files = await collectImages(positionals);
    const stems = stemsOf(files);
    await ensureOutputDir(outDir);
    if (values['save-maps']) await ensureOutputDir(path.join(outDir, 'maps'));

    const backend = await startBackend(values.backend, 'predict');
    const { detector: model } = await loadDetector(modelPath, configOverrides(values), { onnx: backend.onnx, raw: !!values['no-refine'] });
    const pre = preprocessFromFlags(values, model.preprocess);
    const multiple = model.inputMultiple > 1 ? model.inputMultiple : undefined;
    try {
      validatePreprocess(pre, multiple);
      if (values['zero-shot'] && model.kind !== 'inp-former') throw new InputError(modelPath, '--zero-shot needs an INP-Former (it is the INP coherence map); this is a kNN model');
    } catch (e) {
      model.dispose();
      throw e;
    }
    const scores: Record<string, number> = {};
    const progress = progressReporter('predict', files.length);
    const failures = inputFailures('predict');
    try {
      for (let i = 0; i < files.length; i += batch) {
        const chunk = files.slice(i, i + batch);
        const items: Preprocessed[] = [];
        const kept: number[] = [];
        for (const [j, f] of chunk.entries()) {
          const it = await failures.attempt(f, async () => preprocess(decodeImage(await readInput(f), f), pre, multiple, f));
          if (it) { items.push(it); kept.push(j); }
        }
        if (!items.length) { progress.tick(Math.min(i + batch, files.length), path.basename(chunk[chunk.length - 1])); continue; }
        if (pre.protocol === 'annotate') {
          // Each map goes back to its own image size, so images run one by one.
          for (const [k, it] of items.entries()) {
            const r = await model.predict(stackBatch([it]), { mapSize: pre.mapSize, zeroShot: values['zero-shot'], outputSize: [it.source.height, it.source.width] });
            await record(chunk[kept[k]], stems[i + kept[k]], r.maps[0], r.height, r.width, r.scores[0]);
          }
        } else {
          const r = await model.predict(stackBatch(items), { mapSize: pre.mapSize, zeroShot: values['zero-shot'] });
          for (const [k, j] of kept.entries()) await record(chunk[j], stems[i + j], r.maps[k], r.height, r.width, r.scores[k]);
        }
        progress.tick(Math.min(i + batch, files.length), path.basename(chunk[chunk.length - 1]));
      }
    } finally {
      progress.end();
      model.dispose();
      if (backend.tfjs === 'webgpu') (await import('../../src/platform/node/webgpu.ts')).releaseNodeWebGPU();
    }
    if (failures.failed.length === files.length) await failures.settle(files.length, outDir);
    await writeFileAtomic(path.join(outDir, 'scores.json'), `${JSON.stringify(scores, null, 2)}\n`);
    return failures.settle(files.length, outDir);

    async function record(file: string, stem: string, map: Float32Array, h: number, w: number, score: number) {
      scores[file] = score;
      if (values['save-maps']) await writeFileAtomic(path.join(outDir, 'maps', `${stem}.npy`), encodeNpy(map, [h, w]));
    }
  },
};
