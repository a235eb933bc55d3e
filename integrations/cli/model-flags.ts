import { defaultGroups, type ConfigOverrides } from '../../src/checkpoint/infer-config.ts';
import { intFlag, UsageError } from './args.ts';

/** Flags that override what is read from a checkpoint's tensor shapes. */
export const CONFIG_FLAGS = {
  heads: { type: 'string' }, 'encoder-heads': { type: 'string' }, 'target-layers': { type: 'string' },
} as const;

function intList(v: string, flag: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 0)) throw new UsageError(`--${flag} must be a comma-separated list of integers, got "${v}"`);
  return xs;
}

export function configOverrides(v: Record<string, unknown>): ConfigOverrides {
  const o: ConfigOverrides = {};
  if (typeof v.heads === 'string') o.numHeads = intFlag(v.heads, 'heads', 0);
  if (typeof v['encoder-heads'] === 'string') o.encoder = { numHeads: intFlag(v['encoder-heads'] as string, 'encoder-heads', 0) };
  if (typeof v['target-layers'] === 'string') {
    o.targetLayers = intList(v['target-layers'] as string, 'target-layers');
    o.fuseEncoder = defaultGroups(o.targetLayers.length);
  }
  return o;
}

/** `--no-refine`: a refined model folder's raw map (the detector's own, without its refinement head). */
export const REFINE_FLAGS = { 'no-refine': { type: 'boolean' } } as const;
export const REFINE_USAGE = '[--no-refine]';
