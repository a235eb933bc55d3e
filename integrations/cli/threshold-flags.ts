import path from 'node:path';
import { imageMap } from '../../src/pipeline/image-map.ts';
import type { ProposalOptions } from '../../src/annotate/proposals.ts';
import type { Detector } from '../../src/pipeline/detector.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { calibrateFromNormals } from '../../src/threshold/strategies.ts';
import type { Calibration, PreprocessConfig } from '../../src/types.ts';
import { intFlag, numFlag, UsageError } from './args.ts';
import { collectImages, readInput } from './images.ts';
import { progressReporter } from './progress.ts';

/** annotate's threshold and mask options, shared by `annotate`, `serve-ls` and `serve-cvat` so they cut masks alike. */
export const THRESHOLD_FLAGS = {
  'threshold-from': { type: 'string' }, quantile: { type: 'string' }, threshold: { type: 'string' },
  'min-area': { type: 'string' }, 'fill-holes': { type: 'boolean' }, smooth: { type: 'string' }, 'region-level': { type: 'string' },
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

export interface ThresholdFlags {
  /** --threshold X, raw map units. */
  manual?: number;
  /** --threshold-from's images and --quantile. */
  normals?: string[];
  quantile?: number;
  options: ProposalOptions;
}

export async function thresholdFromFlags(v: Values): Promise<ThresholdFlags> {
  if (v.threshold !== undefined && v['threshold-from'] !== undefined) throw new UsageError('give --threshold or --threshold-from, not both');
  const manual = numFlag(v.threshold as string | undefined, 'threshold');
  const quantile = numFlag(v.quantile as string | undefined, 'quantile');
  return {
    ...(manual !== undefined ? { manual } : {}),
    ...(quantile !== undefined ? { quantile } : {}),
    ...(v['threshold-from'] ? { normals: await collectImages([v['threshold-from'] as string]) } : {}),
    options: {
      ...(v['min-area'] ? { minArea: intFlag(v['min-area'] as string, 'min-area', 1) } : {}),
      ...(v.smooth ? { smoothRadius: intFlag(v.smooth as string, 'smooth', 1) } : {}),
      ...(v['fill-holes'] ? { fillHoles: true } : {}),
      ...(v['region-level'] !== undefined ? { regionLevel: regionLevelFlag(v['region-level'] as string) } : {}),
    },
  };
}

/** --region-level: a share in (0, 1) of each region's rise above the background, or "off" (exactly map > threshold). */
function regionLevelFlag(v: string): number | false {
  if (v === 'off') return false;
  const level = Number(v);
  if (v.trim() === '' || !(level > 0 && level < 1)) throw new UsageError(`--region-level must be a number between 0 and 1 (e.g. 0.6) or "off", got "${v}"`);
  return level;
}

/** The normals-quantile calibration from held-out normal image files, with progress on stderr. */
export async function calibrateFromFiles(detector: Detector, files: readonly string[], pre: PreprocessConfig, quantile: number | undefined, label: string): Promise<Calibration> {
  const progress = progressReporter(`${label}: normals`, files.length);
  const maps = [];
  try {
    for (const [i, f] of files.entries()) {
      maps.push(await imageMap(detector, decodeImage(await readInput(f), f), pre, f));
      progress.tick(i + 1, path.basename(f));
    }
  } finally {
    progress.end();
  }
  return calibrateFromNormals(maps.map((m) => m.map), maps.map((m) => m.score), quantile === undefined ? {} : { quantile });
}
