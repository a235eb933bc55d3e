import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadCheckpoint } from '../../src/checkpoint/load.ts';
import { InputError } from '../../src/errors.ts';
import { buildModelFolder } from '../../src/model-folder/manifest.ts';
import { writeModelFolder } from '../../src/platform/node/model-folder.ts';
import { choice, parse, required, UsageError } from './args.ts';
import { configOverrides, CONFIG_FLAGS } from './model-flags.ts';

export const command = {
  summary: 'Convert an official checkpoint (INP-Former model.pth, DINOv2 .pth, Hugging Face DINOv2 .safetensors) into a model folder.',
  usage: '<checkpoint.pth|.safetensors> -o <model-dir> [--dtype f32|f16] [--name NAME] [config overrides: --heads N --target-layers 2,3,... --inp-count N]',
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {
      output: { type: 'string', short: 'o' }, dtype: { type: 'string' }, name: { type: 'string' }, ...CONFIG_FLAGS,
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one checkpoint file');
    const src = positionals[0];
    const out = required(values.output, 'output (-o)');
    const dtype = choice(values.dtype, 'dtype', ['f32', 'f16'] as const, 'f32');
    const bytes = new Uint8Array(await readFile(src).catch((e) => { throw new InputError(src, `cannot read (${e.code ?? e.message})`); }));
    const ck = loadCheckpoint(bytes, src, configOverrides(values));
    const built = await buildModelFolder(
      ck.kind === 'inp-former' ? { kind: ck.kind, config: ck.config, tensors: ck.tensors } : { kind: ck.kind, encoder: ck.encoder, tensors: ck.tensors },
      { name: values.name ?? path.basename(src).replace(/\.[^.]+$/, ''), dtype: dtype === 'f16' ? 'F16' : 'F32', source: { file: path.basename(src), format: ck.format } },
    );
    await writeModelFolder(out, built);
    const what = ck.kind === 'inp-former' && ck.config.encoder.kind === 'dinov2'
      ? `INP-Former (encoder ${ck.config.encoder.embedDim}-d × ${ck.config.encoder.depth} blocks, ${ck.config.numHeads} heads, ${ck.config.inpCount} INPs)`
      : ck.kind === 'encoder' ? `DINOv2 encoder (${ck.encoder.embedDim}-d × ${ck.encoder.depth} blocks, ${ck.encoder.registerTokens} registers)` : 'INP-Former';
    console.error(`converted ${src} (${ck.format}): ${what} -> ${out}`);
  },
};
