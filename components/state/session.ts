import type { BinaryMask, EngineName, ImageSource } from '../../src/web.ts';

/**
 * The annotator's session as plain data: what each image is, what was decided on it and with which threshold.
 * Pending proposals are not stored: they are derived from the raw map and the threshold (review.ts), so moving the
 * threshold never needs the model and only decisions (accept / reject / edit / draw / mark) are ever saved.
 */


export type ImageStatus = 'unreviewed' | 'normal' | 'defective';

/** A decided region: an accepted (possibly edited) proposal, a drawn region, or a rejected proposal (kept to suppress it). */
export interface ReviewRegion {
  id: number;
  state: 'accepted' | 'rejected';
  origin: 'model' | 'drawn';
  edited: boolean;
  /** At the image's working size (resolution.ts). */
  mask: BinaryMask;
  /** Normalised score of the proposal it came from (0.5 = threshold). */
  score?: number;
}

export type { ImageSource };

export interface ImageEntry {
  id: string;
  name: string;
  source: ImageSource;
  /** Original size, and the working size masks and maps live at; known once decoded. */
  size?: { width: number; height: number; workWidth: number; workHeight: number };
  status: ImageStatus;
  regions: ReviewRegion[];
  nextRegionId: number;
  updatedAt: number;
  /** The annotator's sensitivity for this image alone, overriding the session's (an odd part or lighting). */
  sensitivity?: number;
}

export interface SessionSettings {
  /** The sensitivity knob: 0.5 = the calibrated cut, higher proposes more. */
  sensitivity: number;
  /** Id of the image on screen. */
  current?: string;
  /** URL of the model in use when it came from one (a file opened here has one in the model cache): restored on reload. */
  modelUrl?: string;
  /** The prediction engine chosen in the model panel (the page's `engine` parameter overrides it). */
  engine?: EngineName;
}

export const DEFAULT_SETTINGS: SessionSettings = { sensitivity: 0.5 };

/**
 * Settings as saved, also by earlier versions, which stored the knob as a normalised `threshold` (higher: fewer
 * masks): read as sensitivity = 1 − threshold, so a saved session opens with the same masks.
 */
export function readSettings(saved: unknown): SessionSettings {
  const s = (saved && typeof saved === 'object' ? saved : {}) as Partial<SessionSettings> & { threshold?: unknown };
  const { threshold, ...rest } = s;
  const sensitivity = typeof s.sensitivity === 'number' ? s.sensitivity : typeof threshold === 'number' ? 1 - threshold : DEFAULT_SETTINGS.sensitivity;
  return { ...rest, sensitivity: Math.min(1, Math.max(0, Math.round(sensitivity * 100) / 100)) };
}

export function newEntry(id: string, name: string, source: ImageSource): ImageEntry {
  return { id, name, source, status: 'unreviewed', regions: [], nextRegionId: 1, updatedAt: Date.now() };
}

/** The entry with one change applied and its time stamped; entries are never mutated (undo keeps old ones). */
export function touch(e: ImageEntry, change: Partial<ImageEntry>): ImageEntry {
  return { ...e, ...change, updatedAt: Date.now() };
}

/** Adds a decided region with the next id. */
export function addRegion(e: ImageEntry, r: Omit<ReviewRegion, 'id'>): ImageEntry {
  return touch(e, { regions: [...e.regions, { ...r, id: e.nextRegionId }], nextRegionId: e.nextRegionId + 1 });
}

export function replaceRegion(e: ImageEntry, id: number, change: Partial<ReviewRegion>): ImageEntry {
  return touch(e, { regions: e.regions.map((r) => (r.id === id ? { ...r, ...change } : r)) });
}

export function removeRegion(e: ImageEntry, id: number): ImageEntry {
  return touch(e, { regions: e.regions.filter((r) => r.id !== id) });
}

/** Marking an image normal drops its accepted regions (they contradict it); rejected ones stay as negatives. */
export function markImage(e: ImageEntry, status: ImageStatus): ImageEntry {
  return touch(e, { status, regions: status === 'normal' ? e.regions.filter((r) => r.state === 'rejected') : e.regions });
}

export function acceptedRegions(e: ImageEntry): ReviewRegion[] {
  return e.regions.filter((r) => r.state === 'accepted');
}
