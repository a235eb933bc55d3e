import { InputError } from '../errors.ts';

export interface WarmCosineSchedule {
  /** Peak learning rate, reached at the end of the warm-up. */
  base: number;
  /** Learning rate at the end of the cosine and after it. */
  final: number;
  /** Total iterations (warm-up included). */
  total: number;
  /** Warm-up iterations; 0 starts the cosine at `base` on the first step. */
  warmup: number;
}

export function validateSchedule(s: WarmCosineSchedule, where = 'schedule'): void {
  if (!(s.base >= 0 && s.final >= 0)) throw new InputError(where, `learning rates must be ≥ 0, got base ${s.base}, final ${s.final}`);
  if (!Number.isInteger(s.total) || s.total < 1) throw new InputError(where, `total iterations must be a positive integer, got ${s.total}`);
  if (!Number.isInteger(s.warmup) || s.warmup < 0 || s.warmup > s.total) {
    throw new InputError(where, `warm-up must be an integer in [0, ${s.total}], got ${s.warmup}`);
  }
}

/**
 * The official `WarmCosineScheduler`, stepped per iteration: the learning rate used at iteration t (0-based).
 * Warm-up is numpy's linspace(0, base, warmup) — so t = 0 uses 0, as in the reference — then a half cosine
 * from base to final over the remaining iterations, then final.
 */
export function warmCosineLr(t: number, s: WarmCosineSchedule): number {
  if (t >= s.total) return s.final;
  if (t < s.warmup) {
    // numpy.linspace: start + i·step, with the last sample pinned to the end point.
    if (s.warmup === 1) return 0;
    return t === s.warmup - 1 ? s.base : t * (s.base / (s.warmup - 1));
  }
  const i = t - s.warmup;
  return s.final + 0.5 * (s.base - s.final) * (1 + Math.cos((Math.PI * i) / (s.total - s.warmup)));
}
