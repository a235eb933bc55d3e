import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readSafetensors } from '../../src/checkpoint/safetensors.ts';
import type { TensorMap } from '../../src/types.ts';

/** ../shared next to the repository (fixtures, docs, data). Override with INP_SHARED_DIR. */
export const SHARED_DIR = process.env.INP_SHARED_DIR
  ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
export const FIXTURES = path.join(SHARED_DIR, 'fixtures');
export const DATA = path.join(SHARED_DIR, 'data');

export const HAS_FIXTURES = existsSync(FIXTURES);
export const HAS_DATA = existsSync(path.join(DATA, 'mvtec256'));

/** Printed once per file when fixtures are absent, so a skipped suite says why. */
export function skipReason(what: 'fixtures' | 'data'): string {
  return `skipped: ${what === 'fixtures' ? FIXTURES : path.join(DATA, 'mvtec256')} not found (../shared is absent on this machine; set INP_SHARED_DIR)`;
}

export function fixture(...p: string[]): string {
  return path.join(FIXTURES, ...p);
}

export function loadFixtureTensors(...p: string[]): TensorMap {
  const file = fixture(...p);
  return readSafetensors(new Uint8Array(readFileSync(file)), file).tensors;
}

export function loadFixtureJson<T = any>(...p: string[]): T {
  return JSON.parse(readFileSync(fixture(...p), 'utf8')) as T;
}

/** max |a-b| / max|b|: the fixtures' relative tolerance. */
export function relMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
