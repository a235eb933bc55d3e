import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../src/errors.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { initHead } from '../../src/inp-former/init.ts';
import { ENCODER_PREFIX, inputMultipleOf } from '../../src/inp-former/frozen-encoder.ts';
import { cnnPreprocess, defaultTrainStages } from '../../src/encoder/cnn-config.ts';
import { buildModelFolder } from '../../src/model-folder/manifest.ts';
import { loadModelFromPath, writeModelFolder, type ResolvedModel } from '../../src/platform/node/model-folder.ts';
import { nodeFeatureStore } from '../../src/platform/node/feature-store.ts';
import { startGradientThreads } from '../../src/platform/node/gradient-threads.ts';
import { writeFileAtomic } from '../../src/platform/node/files.ts';
import { inputSize, validatePreprocess } from '../../src/preprocess/preprocess.ts';
import { encoderPart, headOf, modelInput, recipeSettings, runTrainingJob } from '../../src/pipeline/train-job.ts';
import { useNodeBackend } from '../../src/platform/node/webgpu.ts';
import { exportOfficialSafetensors } from '../../src/train/export.ts';
import { headConfigFor } from '../../src/train/head-config.ts';
import type { TrainMode } from '../../src/train/recipe.ts';
import { DEFAULT_FINETUNE_MODE, FINETUNE_RECIPES, fineTuneMode } from '../../src/train/recipe.ts';
import { loadTrainState, saveTrainState, type TrainState } from '../../src/train/state.ts';
import type { InpFormerConfig, PreprocessConfig, TensorMap } from '../../src/types.ts';
import { choice, intFlag, numFlag, parse, required, UsageError } from './args.ts';
import { packageEncoderWeights, resolveEncoderSpec } from './detector-io.ts';
import { collectImages, readInput } from './images.ts';
import { configOverrides, CONFIG_FLAGS } from './model-flags.ts';
import { PREPROCESS_FLAGS, preprocessFromFlags } from './predict.ts';
import { progressReporter } from './progress.ts';

/** Flags shared by `train` and `finetune`: the recipe, data order, run control and preprocessing. */
const RUN_FLAGS = {
  data: { type: 'string', short: 'd', multiple: true }, output: { type: 'string', short: 'o' },
  steps: { type: 'string' }, epochs: { type: 'string' }, batch: { type: 'string' }, 'micro-batch': { type: 'string' },
  lr: { type: 'string' }, 'token-lr': { type: 'string' }, 'final-lr': { type: 'string' }, 'warmup-steps': { type: 'string' }, seed: { type: 'string' },
  'no-shuffle': { type: 'boolean' }, 'few-shot': { type: 'boolean' }, backend: { type: 'string' }, name: { type: 'string' },
  resume: { type: 'string' }, state: { type: 'string' }, 'feature-cache': { type: 'string' }, threads: { type: 'string' }, ...PREPROCESS_FLAGS,
} as const;

const RUN_USAGE = '[--steps N | --epochs N] [--batch N] [--micro-batch N] [--lr X] [--token-lr X] [--final-lr X] [--warmup-steps N] [--seed N] [--no-shuffle] '
  + '[--few-shot] [--resume <state.safetensors>] [--state <file>] [--feature-cache <dir>] [--threads N] [--backend wasm|cpu] [--name NAME] [--protocol official|annotate --resize N --crop N]';

/**
 * The part of a feature-store key shared by every image of a run: the frozen encoder (config and weights), the
 * preprocessing, the cached layers and the few-shot expansion. An image's key adds a hash of its bytes.
 */
function featureKeyBase(job: Job, config: InpFormerConfig, fewShot: boolean): string {
  const h = createHash('sha256').update(JSON.stringify([config.encoder, config.targetLayers, config.fuseEncoder, job.preprocess, fewShot]));
  for (const [name, t] of [...job.encoder, ...(job.encoderWeights ?? [])]) h.update(name).update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return h.digest('hex').slice(0, 24);
}

/**
 * Images per micro-batch so one backward pass stays well inside wasm's 4 GB heap: the tape keeps about two dozen
 * [tokens × MLP width] float32 intermediates per block (erf GELU, LayerNorm, attention), ~1.5 GB budget. Measured:
 * ResNet-18 layer2 tokens at 28² abort at 16 images and run at 4. The accumulated step equals the full batch.
 */
function autoMicroBatch(config: InpFormerConfig, size: number): number {
  const e = config.encoder;
  const tokens = e.kind === 'dinov2' ? (size / e.patchSize) ** 2 : (e.grid ?? Math.ceil(size / 8)) ** 2;
  const perImage = tokens * config.embedDim * config.mlpRatio * (config.decoderDepth + 2) * 4 * 24;
  return Math.max(1, Math.floor(1.5e9 / perImage));
}

/** `-e` values that name a CNN encoder rather than a file (README "Encoder specs"). */
const CNN_SPEC = /^(nsfwjs-mobilenetv2(:|$)|(resnet18|resnet50|wide_resnet50_2)=)/;

interface Job {
  /** Encoder tensors (official `encoder.*` names) and the head to start from. */
  encoder: TensorMap;
  /** A CNN encoder's weights when the model folder will not hold them (nsfwjs, from its package). */
  encoderWeights?: TensorMap;
  init: TensorMap;
  config: InpFormerConfig;
  preprocess: PreprocessConfig;
  mode: TrainMode;
  source: string;
}

/** Everything after the model is chosen: data, the run, progress on stderr, Ctrl-C → resumable state, the folder. */
async function runJob(values: Record<string, any>, positionals: string[], job: Job, label: 'train' | 'finetune'): Promise<number | undefined> {
  const out = required(values.output, 'output (-o)');
  // `-d a.png b.png dir/`: parseArgs keeps the first value on -d and the rest as positionals.
  const files = await collectImages([...(values.data ?? []), ...positionals]);
  const backend = choice(values.backend, 'backend', ['wasm', 'cpu'] as const, 'wasm');
  const statePath = values.state ?? `${out.replace(/[\\/]+$/, '')}.train-state.safetensors`;
  const resume: TrainState | undefined = values.resume
    ? loadTrainState(new Uint8Array(await readFile(values.resume).catch((e) => { throw new InputError(values.resume, `cannot read (${e.code ?? e.message})`); })), values.resume)
    : undefined;
  const config = resume?.config ?? job.config;
  const pre = job.preprocess;
  const multiple = inputMultipleOf(config.encoder);
  validatePreprocess(pre, multiple > 1 ? multiple : undefined);
  // The recipe (src/train/recipe.ts; the trainer's defaults for DINOv2), with the steps asked for; --epochs instead
  // of steps leaves the step count to the trainer.
  const recipe = recipeSettings(label, config, job.mode, values.steps !== undefined ? intFlag(values.steps, 'steps', 1) : undefined);
  const steps = values.epochs === undefined ? recipe.steps : undefined;

  await useNodeBackend(backend);
  const ctl = new AbortController();
  const onInt = () => { console.error(`\n${label}: stopping after this step (Ctrl-C again to quit without saving)`); process.off('SIGINT', onInt); ctl.abort(); };
  process.on('SIGINT', onInt);
  const encodeBar = progressReporter(`${label}: encoding`, files.length);
  const keyBase = values['feature-cache'] ? featureKeyBase(job, config, !!values['few-shot']) : undefined;
  let bar: ReturnType<typeof progressReporter> | undefined;
  // wasm and cpu (the CLI's backends) compute on one core per tfjs instance: by default one gradient thread per core,
  // and never more than a batch has images (a thread without a shard would only cost its start-up).
  const batchSize = intFlag(values.batch, 'batch', recipe.batchSize ?? 16);
  const threadCount = Math.min(batchSize, values.threads === undefined ? os.availableParallelism() : intFlag(values.threads, 'threads', 1));
  const threads = threadCount > 1 ? startGradientThreads(threadCount) : undefined;
  try {
    const { run: r, content } = await runTrainingJob({
      content: { kind: 'inp-former', config, tensors: new Map([...job.encoder, ...job.init]) },
      ...(job.encoderWeights ? { encoderWeights: job.encoderWeights } : {}),
      preprocess: pre, mode: job.mode, where: job.source,
      inputs: {
        count: files.length,
        load: async (i) => modelInput(decodeImage(await readInput(files[i]), files[i]), pre, config, files[i]),
        key: async (i) => `${keyBase}-${createHash('sha256').update(await readInput(files[i])).digest('hex').slice(0, 24)}`,
      },
      settings: {
        resume, signal: ctl.signal,
        ...(values['feature-cache'] ? { featureStore: nodeFeatureStore(values['feature-cache']) } : {}),
        steps, epochs: values.epochs === undefined ? undefined : intFlag(values.epochs, 'epochs', 1),
        batchSize,
        microBatch: values['micro-batch'] === undefined ? autoMicroBatch(config, inputSize(pre)) : intFlag(values['micro-batch'], 'micro-batch', 1),
        lr: numFlag(values.lr, 'lr') ?? recipe.lr, tokenLr: numFlag(values['token-lr'], 'token-lr') ?? recipe.tokenLr, finalLr: numFlag(values['final-lr'], 'final-lr') ?? recipe.finalLr,
        warmupSteps: values['warmup-steps'] !== undefined ? intFlag(values['warmup-steps'], 'warmup-steps', 0, 0) : recipe.warmupSteps,
        seed: intFlag(values.seed, 'seed', 1, 0), shuffle: !values['no-shuffle'], fewShot: values['few-shot'],
        ...(threads ? { threads: threads.channels } : {}),
        onProgress: (e) => {
          if (e.stage === 'encode') { encodeBar.tick(e.done, path.basename(files[e.done - 1])); return; }
          if (e.stage !== 'train') return;
          if (!bar) { encodeBar.end(); bar = progressReporter(`${label}: step`, e.steps); }
          bar.tick(e.step, `loss ${e.loss.toFixed(5)} (sm ${e.softMining.toFixed(5)}, c ${e.coherence.toFixed(5)}) lr ${e.lr.toExponential(2)} · ${e.imagesPerSecond.toFixed(1)} img/s`);
        },
      },
    });
    bar?.end();
    if (!content) {
      await writeFileAtomic(statePath, saveTrainState(r.state));
      console.error(`${label}: stopped at step ${r.state.step}/${r.state.run.schedule.total}; state saved to ${statePath} (continue with --resume ${statePath})`);
      return 130;
    }
    if (values.state) await writeFileAtomic(statePath, saveTrainState(r.state));
    const built = await buildModelFolder(content, {
      name: values.name ?? path.basename(out), preprocess: pre, source: { file: path.basename(job.source), format: `${label} (${r.state.run.mode}, ${r.state.step} steps)` },
    });
    await writeModelFolder(out, built);
    console.error(`${label}: ${r.state.step} steps on ${r.state.run.items} items -> ${out}`);
  } finally {
    process.off('SIGINT', onInt);
    await threads?.close();
  }
}

async function load(p: string, values: Record<string, unknown>): Promise<ResolvedModel> {
  return loadModelFromPath(p, configOverrides(values));
}

function notAnEncoder(p: string): never {
  throw new InputError(p, 'is neither an encoder nor an INP-Former checkpoint');
}


export const command = {
  summary: 'Train an INP-Former head (INP tokens, extractor, bottleneck, decoder) on normal images over a frozen encoder.',
  usage: `-e <encoder: DINOv2 .pth/.safetensors, INP-Former checkpoint or model dir, or resnet18=<w.pth>[:layers] | nsfwjs-mobilenetv2[:blocks]> -d <normal images or folders…> -o <model-dir> [--init <checkpoint>] [--heads N --inps N (CNN encoders)] ${RUN_USAGE}`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, { encoder: { type: 'string', short: 'e' }, init: { type: 'string' }, inps: { type: 'string' }, ...RUN_FLAGS, ...CONFIG_FLAGS });
    const encPath = required(values.encoder, 'encoder (-e)');
    if (CNN_SPEC.test(encPath)) {
      // Our CNN recipe (src/train/recipe.ts): its stages, head, steps and learning rates unless flags say otherwise.
      const cnn = await resolveEncoderSpec(encPath, defaultTrainStages);
      const size = intFlag(values.resize, 'resize', 224);
      const encoder = { ...cnn.config, grid: Math.ceil(size / 8) };
      const base = headConfigFor(encoder);
      const numHeads = values.heads === undefined ? base.numHeads : intFlag(values.heads, 'heads', 1);
      if (base.embedDim % numHeads) throw new UsageError(`--heads ${numHeads} must divide the token width ${base.embedDim}`);
      const config = { ...base, numHeads, inpCount: values.inps === undefined ? base.inpCount : intFlag(values.inps, 'inps', 1) };
      return runJob(values, positionals, {
        encoder: cnn.bundled ? new Map([...cnn.weights].map(([k, v]) => [ENCODER_PREFIX + k, v])) : new Map(),
        ...(cnn.bundled ? {} : { encoderWeights: cnn.weights }),
        init: initHead(config, intFlag(values.seed, 'seed', 1, 0)), config,
        preprocess: preprocessFromFlags(values, cnnPreprocess(encoder.kind, size)), mode: 'full', source: encPath,
      }, 'train');
    }
    const enc = await load(encPath, values);
    const initModel = values.init ? await load(values.init, values) : undefined;
    if (initModel && initModel.content.kind !== 'inp-former') throw new InputError(values.init!, 'has no INP-Former head to start from (it is an encoder only)');
    const c = enc.content;
    const config = initModel?.content.kind === 'inp-former' ? initModel.content.config
      : c.kind === 'inp-former' ? c.config
        : c.kind === 'encoder' ? headConfigFor(c.encoder)
          : notAnEncoder(encPath);
    const seed = intFlag(values.seed, 'seed', 1, 0);
    return runJob(values, positionals, {
      encoder: encoderPart(enc.content.tensors),
      init: initModel ? headOf(initModel.content.tensors, config) : initHead(config, seed),
      config, preprocess: preprocessFromFlags(values, enc.preprocess), mode: 'full', source: encPath,
    }, 'train');
  },
};

export const finetuneCommand = {
  summary: `Fine-tune a trained INP-Former on a few normal images: --mode ${Object.keys(FINETUNE_RECIPES).join(' | ')} (default ${DEFAULT_FINETUNE_MODE}: the best measured, BENCHMARKS.md).`,
  usage: `-m <model-dir|checkpoint> -d <normal images or folders…> -o <model-dir> [--mode ${Object.keys(FINETUNE_RECIPES).join('|')}] [--extractor (= --mode tokens+extractor)] ${RUN_USAGE}`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, { model: { type: 'string', short: 'm' }, extractor: { type: 'boolean' }, mode: { type: 'string' }, ...RUN_FLAGS, ...CONFIG_FLAGS });
    if (values.extractor && values.mode !== undefined && values.mode !== 'tokens+extractor') throw new UsageError(`--extractor means --mode tokens+extractor, not --mode ${values.mode}`);
    const mode = fineTuneMode(values.extractor ? 'tokens+extractor' : values.mode, '--mode');
    const modelPath = required(values.model, 'model (-m)');
    const m = await load(modelPath, values);
    if (m.content.kind !== 'inp-former') throw new InputError(modelPath, 'is an encoder only: train a model first (inp-former train)');
    const config = m.content.config;
    const encoderWeights = await packageEncoderWeights(m.content);
    return runJob(values, positionals, {
      encoder: encoderPart(m.content.tensors), init: headOf(m.content.tensors, config), config, ...(encoderWeights ? { encoderWeights } : {}),
      preprocess: preprocessFromFlags(values, m.preprocess), mode, source: modelPath,
    }, 'finetune');
  },
};

export const exportCommand = {
  summary: 'Write a model as a .safetensors with the official INP-Former key names (every key of model.pth, F32), for the PyTorch code.',
  usage: '-m <model-dir|checkpoint> -o <file.safetensors>',
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, { model: { type: 'string', short: 'm' }, output: { type: 'string', short: 'o' }, ...CONFIG_FLAGS });
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const modelPath = required(values.model, 'model (-m)');
    const out = required(values.output, 'output (-o)');
    const m = await load(modelPath, values);
    if (m.content.kind !== 'inp-former') throw new InputError(modelPath, 'is an encoder only: there is no INP-Former to export');
    await writeFileAtomic(out, exportOfficialSafetensors(m.content.tensors, m.content.config, modelPath));
    console.error(`exported ${modelPath} -> ${out} (official INP-Former keys)`);
  },
};
