import { validateConfig } from '../checkpoint/infer-config.ts';
import { expectedHeadShapes } from '../checkpoint/load.ts';
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.ts';
import { InputError } from '../errors.ts';
import type { InpFormerConfig, TensorMap } from '../types.ts';
import { checkHeadTensors, fromOfficialLayout, isTrained, tensorsToMap } from './head-params.ts';
import { TRAIN_MODES, type TrainMode } from './recipe.ts';
import type { WarmCosineSchedule } from './schedule.ts';
import type { OptimizerState, TrainableHead } from './step.ts';

/** Everything that fixes a run's sequence of updates; a resumed run continues with these. */
export interface RunSettings {
  mode: TrainMode;
  schedule: WarmCosineSchedule;
  batchSize: number;
  seed: number;
  shuffle: boolean;
  /** Training items (images, or few-shot views), to check that a resume sees the same data. */
  items: number;
  /** The INP tokens' learning rate as a multiple of the schedule's (fine-tunes; absent: 1, the official recipe). */
  tokenLrScale?: number;
}

/** A resumable training state on the host: head weights and optimiser moments under official names. */
export interface TrainState {
  config: InpFormerConfig;
  run: RunSettings;
  /** Optimiser steps taken. */
  step: number;
  head: TensorMap;
  /** `exp_avg.<name>`, `exp_avg_sq.<name>`, `max_exp_avg_sq.<name>` for each trained tensor. */
  moments: TensorMap;
}

const FORMAT = 'inp-former-train-state';
const MOMENTS = [['exp_avg', 'm'], ['exp_avg_sq', 'v'], ['max_exp_avg_sq', 'vMax']] as const;

/** Host copy of a run's state after `opt.step` steps. */
export async function captureState(h: TrainableHead, opt: OptimizerState, config: InpFormerConfig, run: RunSettings): Promise<TrainState> {
  const head = await tensorsToMap(h.params, config, (p) => p.tensor);
  const moments: TensorMap = new Map();
  for (const [key, field] of MOMENTS) {
    const m = await tensorsToMap(h.trained, config, (p) => opt.moments.get(p.name)![field]);
    for (const [name, t] of m) moments.set(`${key}.${name}`, t);
  }
  return { config, run, step: opt.step, head, moments };
}

/** The optimiser state of `s` as tensors for `h` (its trained tensors must be those of `s.run.mode`). */
export function restoreOptimizer(h: TrainableHead, s: TrainState): OptimizerState {
  const shapes = expectedHeadShapes(s.config);
  const get = (p: TrainableHead['trained'][number], key: string) =>
    fromOfficialLayout(p, s.moments.get(`${key}.${p.name}`)!.data as Float32Array, shapes.get(p.name)!);
  return {
    step: s.step,
    moments: new Map(h.trained.map((p) => [p.name, { m: get(p, 'exp_avg'), v: get(p, 'exp_avg_sq'), vMax: get(p, 'max_exp_avg_sq') }])),
  };
}

/** One safetensors file: head tensors under official names, moments prefixed, settings in the metadata. */
export function saveTrainState(s: TrainState): Uint8Array {
  return writeSafetensors(new Map([...s.head, ...s.moments]), {
    metadata: { format: FORMAT, version: '1', step: String(s.step), config: JSON.stringify(s.config), run: JSON.stringify(s.run) },
  });
}

function parseJson(text: string | undefined, where: string, field: string): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    throw new InputError(`${where}: __metadata__.${field}`, 'missing or not valid JSON');
  }
}

function checkRun(r: unknown, where: string): asserts r is RunSettings {
  const at = `${where}: __metadata__.run`;
  const o = r as Record<string, any>;
  if (!o || typeof o !== 'object') throw new InputError(at, 'must be an object');
  if (!TRAIN_MODES.includes(o.mode)) throw new InputError(`${at}.mode`, `must be one of ${TRAIN_MODES.join(', ')}`);
  for (const k of ['batchSize', 'items', 'seed']) if (!Number.isSafeInteger(o[k])) throw new InputError(`${at}.${k}`, 'must be an integer');
  if (typeof o.shuffle !== 'boolean') throw new InputError(`${at}.shuffle`, 'must be true or false');
  const s = o.schedule ?? {};
  for (const k of ['base', 'final', 'total', 'warmup']) if (typeof s[k] !== 'number') throw new InputError(`${at}.schedule.${k}`, 'must be a number');
  if (o.tokenLrScale !== undefined && !(typeof o.tokenLrScale === 'number' && o.tokenLrScale > 0)) throw new InputError(`${at}.tokenLrScale`, 'must be a positive number');
}

/** Reads and checks a state written by saveTrainState; errors name the file and the field or tensor. */
export function loadTrainState(bytes: Uint8Array, where: string): TrainState {
  const { tensors, metadata } = readSafetensors(bytes, where);
  if (metadata.format !== FORMAT) throw new InputError(`${where}: __metadata__.format`, `is ${JSON.stringify(metadata.format)}, not a training state ("${FORMAT}")`);
  if (metadata.version !== '1') throw new InputError(`${where}: __metadata__.version`, `unsupported version ${JSON.stringify(metadata.version)} (this build reads 1)`);
  const step = Number(metadata.step);
  if (!Number.isSafeInteger(step) || step < 0) throw new InputError(`${where}: __metadata__.step`, `must be a step count, got ${JSON.stringify(metadata.step)}`);
  const config = parseJson(metadata.config, where, 'config');
  validateConfig(config, `${where}: __metadata__.config`);
  const run = parseJson(metadata.run, where, 'run');
  checkRun(run, where);
  const head: TensorMap = new Map();
  const moments: TensorMap = new Map();
  for (const [k, t] of tensors) {
    if (!(t.data instanceof Float32Array)) throw new InputError(`${where}: ${k}`, `must be F32, got ${t.dtype}`);
    (MOMENTS.some(([m]) => k.startsWith(`${m}.`)) ? moments : head).set(k, t);
  }
  checkHeadTensors(head, config, where);
  const shapes = expectedHeadShapes(config);
  for (const [name, shape] of shapes) {
    if (!isTrained(name, run.mode)) continue;
    for (const [m] of MOMENTS) {
      const t = moments.get(`${m}.${name}`);
      if (!t) throw new InputError(`${where}: ${m}.${name}`, 'optimiser moment is missing');
      if (t.shape.join() !== shape.join()) throw new InputError(`${where}: ${m}.${name}`, `has shape [${t.shape}], expected [${shape}]`);
    }
  }
  return { config, run, step, head, moments };
}
