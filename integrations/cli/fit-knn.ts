import path from 'node:path';
import { fitKnnModel, imageFiles } from '../../src/knn/fit-model.ts';
import { buildModelFolder } from '../../src/model-folder/manifest.ts';
import { writeModelFolder } from '../../src/platform/node/model-folder.ts';
import { useNodeBackend } from '../../src/platform/node/webgpu.ts';
import { choice, intFlag, numFlag, parse, required, UsageError } from './args.ts';
import { resolveEncoderSpec } from './detector-io.ts';
import { collectImages, readInput } from './images.ts';
import { progressReporter } from './progress.ts';

export const command = {
  summary: 'Build a training-free kNN (PatchCore-style) detector from normal images: a model folder for predict, eval and annotate.',
  usage: '-e <encoder> -d <normal images or folders…> -o <model-dir> [--coreset 0.01] [--seed 0] [--size 224] [--grid N (default size/8)] [--no-local-average] [--dtype f32|f16] [--name NAME] [--backend wasm|cpu]',
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {
      encoder: { type: 'string', short: 'e' }, data: { type: 'string', short: 'd', multiple: true }, output: { type: 'string', short: 'o' },
      coreset: { type: 'string' }, seed: { type: 'string' }, size: { type: 'string' }, grid: { type: 'string' }, 'no-local-average': { type: 'boolean' },
      dtype: { type: 'string' }, name: { type: 'string' }, backend: { type: 'string' },
    });
    const spec = required(values.encoder, 'encoder (-e)');
    const out = required(values.output, 'output (-o)');
    const coresetRatio = numFlag(values.coreset, 'coreset') ?? 0.01;
    if (!(coresetRatio > 0 && coresetRatio <= 1)) throw new UsageError(`--coreset must be in (0, 1], got ${coresetRatio}`);
    const dtype = choice(values.dtype, 'dtype', ['f32', 'f16'] as const, 'f32');
    const backend = choice(values.backend, 'backend', ['wasm', 'cpu'] as const, 'wasm');
    const files = await collectImages([...(values.data ?? []), ...positionals]);
    const enc = await resolveEncoderSpec(spec);
    const config = { ...enc.config, localAverage: !values['no-local-average'], ...(values.grid ? { grid: intFlag(values.grid, 'grid', 0) } : {}) };

    await useNodeBackend(backend);
    const progress = progressReporter('fit-knn', files.length);
    const { content, preprocess } = await fitKnnModel(config, enc.weights, enc.where, imageFiles(files, readInput), {
      size: intFlag(values.size, 'size', 224), coresetRatio, seed: intFlag(values.seed, 'seed', 0, 0), bundleEncoder: enc.bundled,
      onProgress: (d, _, f) => progress.tick(d, path.basename(f)),
    }).finally(() => progress.end());
    const built = await buildModelFolder(content, {
      name: values.name ?? `knn-${config.kind}`, dtype: dtype === 'f16' ? 'F16' : 'F32', preprocess, source: { file: spec, format: 'knn' },
    });
    await writeModelFolder(out, built);
    const k = content.knn;
    console.error(`fit-knn: ${files.length} normal images → memory bank ${k.bankSize} × ${k.dim} (${k.encoder.kind} ${k.encoder.layers.join('+')}, grid ${k.encoder.grid}) -> ${out}`);
  },
};
