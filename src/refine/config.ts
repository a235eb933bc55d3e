import { validateTensors } from '../checkpoint/load.ts';
import { InputError } from '../errors.ts';
import type { RefineConfig, TensorMap } from '../types.ts';

/** The refinement head's file in a model folder, beside the detector's untouched weights. */
export const REFINE_FILE = 'refine.safetensors';
/** Default widths: projection, first and second upsampling. */
export const REFINE_WIDTHS: [number, number, number] = [48, 24, 16];

/** Optimiser steps of a fresh refinement head (an update continues from the head in use). */
export const REFINE_STEPS = 200;

/** A refinement head as a model's content carries it: config and weights. */
export interface RefineHead { config: RefineConfig; tensors: TensorMap }

export function expectedRefineShapes(c: Pick<RefineConfig, 'inputDim' | 'widths'>): Map<string, number[]> {
  const [w0, w1, w2] = c.widths;
  return new Map([
    ['input_scale', [c.inputDim]],
    ['proj.weight', [c.inputDim, w0]], ['proj.bias', [w0]],
    ['up1.weight', [w0, 4 * w1]], ['up1.bias', [w1]],
    ['up2.weight', [w1, 4 * w2]], ['up2.bias', [w2]],
    ['out.weight', [w2, 1]], ['out.bias', [1]],
  ]);
}

/** Shapes against the config, every value finite, and the feature scale positive (the head divides by it). */
export function validateRefineTensors(t: TensorMap, c: RefineConfig, where: string): void {
  validateTensors(t, expectedRefineShapes(c), where);
  const scale = t.get('input_scale')!.data;
  for (let i = 0; i < scale.length; i++) {
    if (!(Number(scale[i]) > 0)) throw new InputError(`${where}: input_scale`, `element ${i} is ${scale[i]}, must be positive`);
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/** manifest.json's `refine` block, field by field; returns a clean copy. */
export function parseRefineConfig(r: unknown, where: string): RefineConfig {
  const fail = (field: string, what: string): never => { throw new InputError(`${where}: refine.${field}`, what); };
  if (!isObject(r)) throw new InputError(`${where}: refine`, 'must be an object');
  if (!(Number.isSafeInteger(r.inputDim) && (r.inputDim as number) > 1)) fail('inputDim', `must be an integer above 1, got ${show(r.inputDim)}`);
  const w = r.widths;
  if (!(Array.isArray(w) && w.length === 3 && w.every((v) => Number.isSafeInteger(v) && v > 0))) fail('widths', `must be 3 positive integers, got ${show(w)}`);
  if (!(typeof r.rawScale === 'number' && Number.isFinite(r.rawScale) && r.rawScale > 0)) fail('rawScale', `must be a positive number, got ${show(r.rawScale)}`);
  const t = r.training;
  if (!isObject(t)) return fail('training', 'must be an object');
  for (const k of ['normals', 'masks', 'steps', 'seed']) if (!isCount(t[k])) fail(`training.${k}`, `must be a non-negative integer, got ${show(t[k])}`);
  const v = r.validation;
  if (v !== undefined && !(isObject(v) && typeof v.raw === 'number' && typeof v.refined === 'number' && typeof v.what === 'string')) {
    fail('validation', 'must be {raw, refined, what}');
  }
  return {
    inputDim: r.inputDim as number, widths: [...(w as [number, number, number])], rawScale: r.rawScale as number,
    training: { normals: t.normals as number, masks: t.masks as number, steps: t.steps as number, seed: t.seed as number },
    ...(v ? { validation: { raw: (v as Json).raw as number, refined: (v as Json).refined as number, what: (v as Json).what as string } } : {}),
  };
}
