import type { RawResult } from './review.ts';
import { DEFAULT_SETTINGS, type ImageEntry, type SessionSettings } from './session.ts';
import type { SessionStore } from './session-store.ts';

/**
 * The workspace's session as data: the images in order, what was decided on each, the model's raw results, the
 * settings, per-image undo history, and the store that keeps them across reloads. Shared by the workspace's view
 * and its model controller.
 */
export class SessionState {
  store?: SessionStore;
  order: string[] = [];
  entries = new Map<string, ImageEntry>();
  results = new Map<string, RawResult>();
  settings: SessionSettings = { ...DEFAULT_SETTINGS };
  history = new Map<string, { undo: ImageEntry[]; redo: ImageEntry[] }>();
}
