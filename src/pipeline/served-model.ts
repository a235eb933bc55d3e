import type { Detector } from './detector.ts';
import { InputError } from '../errors.ts';
import { manualCalibration } from '../threshold/strategies.ts';
import { scoreRange } from '../threshold/calibration.ts';
import type { AnomalyMap, Calibration, PreprocessConfig, RgbImage } from '../types.ts';
import { imageMap } from './image-map.ts';
import type { ProposalOptions } from '../annotate/proposals.ts';

/**
 * What the annotation servers hold: a detector with the options `annotate` takes, and a version name. The servers
 * answer with the same functions as `annotate` (imageMap → calibration → proposeRegions), so the same options give
 * the same masks.
 */

/** annotate's threshold options: a calibration (saved, or from normals / accepted masks), or --threshold X (raw). */
export type ThresholdChoice = { kind: 'calibration'; calibration: Calibration } | { kind: 'manual'; pixelThreshold: number };

export interface ServedModel {
  detector: Detector;
  /** Label Studio's model_version; the model name, then a suffix per training. */
  version: string;
  preprocess: PreprocessConfig;
  threshold: ThresholdChoice;
  options: ProposalOptions;
}

export interface MappedImage { map: AnomalyMap; score: number }

/**
 * The calibration a set of maps is cut with. A manual threshold normalises against the set's own range, as
 * `annotate --threshold` does; annotate refuses a threshold outside a whole dataset's range, but one request may
 * hold only normal images lying below it, so here the range is widened to include it (masks are map > X either way).
 */
export function calibrationFor(maps: readonly AnomalyMap[], choice: ThresholdChoice): Calibration {
  if (choice.kind === 'calibration') return choice.calibration;
  const r = scoreRange(maps.map((m) => m.data), 'maps');
  const x = choice.pixelThreshold;
  const range = { min: Math.min(r.min, x), max: Math.max(r.max, x) };
  if (!(range.min < range.max)) throw new InputError('threshold', `the maps are flat at ${x}: no score range to normalise with`);
  return manualCalibration(x, range);
}

/**
 * Masks must land on the annotation tool's image at its natural size, so the servers cut them from maps resized
 * back onto the image: the `annotate` protocol. Under `official` they would be at the map size.
 */
export function checkServedPreprocess(pre: PreprocessConfig): void {
  if (pre.protocol !== 'annotate') {
    throw new InputError('--protocol', `the servers need masks at the image's own size: use --protocol annotate (this model's preprocessing is "${pre.protocol}")`);
  }
}

/** Decoded images → maps and scores, one at a time (each map goes back to its own image size). */
export async function mapImages(model: ServedModel, images: readonly { image: RgbImage; where: string }[]): Promise<MappedImage[]> {
  const out: MappedImage[] = [];
  for (const im of images) out.push(await imageMap(model.detector, im.image, model.preprocess, im.where));
  return out;
}

/** Requests that may wait for the model before more are refused: a burst queues, a flood is turned away. */
export const DEFAULT_MAX_QUEUE = 8;

/**
 * Runs jobs one after another: model work from concurrent requests queues here instead of holding every request's
 * images, maps and tensors in memory at once. A failed job does not stop the queue. With `maxWaiting`, a job that
 * would wait behind that many is refused at once; a job whose `signal` aborted while it waited (its client gave up)
 * is skipped instead of run for nobody, and one that waited past `deadlineMs` is refused rather than run late (its
 * client has most likely timed out, and running it would only delay the next). `refuse` turns the reason into the
 * error thrown (a server's 503).
 */
export function serialQueue(o: {
  maxWaiting?: number; deadlineMs?: number; refuse?: (reason: string) => Error;
} = {}): <T>(job: () => Promise<T>, signal?: AbortSignal) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  const refuse = o.refuse ?? ((reason: string) => new Error(reason));
  return <T>(job: () => Promise<T>, signal?: AbortSignal) => {
    if (o.maxWaiting !== undefined && waiting >= o.maxWaiting) {
      return Promise.reject(refuse(`busy: ${waiting} requests are waiting for the model; retry later`));
    }
    waiting++;
    const queued = performance.now();
    const p = tail.then(() => {
      waiting--;
      signal?.throwIfAborted();
      const waited = performance.now() - queued;
      if (o.deadlineMs !== undefined && waited > o.deadlineMs) {
        throw refuse(`waited ${Math.round(waited / 1000)} s for the model, past the ${Math.round(o.deadlineMs / 1000)} s deadline; retry later`);
      }
      return job();
    });
    tail = p.catch(() => undefined);
    return p;
  };
}
