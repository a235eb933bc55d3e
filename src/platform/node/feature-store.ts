import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CachedFeatures, FeatureStore } from '../../train/features.ts';
import { writeFileAtomic } from './files.ts';

const MAGIC = 0x31544146; // "FAT1": one image's cached encoder features

/**
 * A FeatureStore in a folder: one `<key>.feat` file per training image (header: magic, items, layers, tokens,
 * channels as uint32; then float32 items × layers × tokens × channels). Written atomically; an unreadable or
 * truncated file counts as a miss, so a crash mid-write never poisons a later run.
 */
export function nodeFeatureStore(dir: string): FeatureStore {
  const file = (key: string) => {
    if (!/^[\w.-]+$/.test(key)) throw new Error(`feature store key "${key}" must be a plain file name`);
    return path.join(dir, `${key}.feat`);
  };
  return {
    async get(key) {
      const bytes = await readFile(file(key)).catch(() => undefined);
      if (!bytes || bytes.byteLength < 20) return undefined;
      const head = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 20));
      const [magic, n, layers, tokens, channels] = head;
      const size = tokens * channels;
      if (magic !== MAGIC || bytes.byteLength !== 20 + n * layers * size * 4) return undefined;
      const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 20, bytes.byteOffset + bytes.byteLength));
      const items = Array.from({ length: n }, (_, i) => Array.from({ length: layers }, (_, l) => all.subarray((i * layers + l) * size, (i * layers + l + 1) * size)));
      return { tokens, channels, items };
    },
    async put(key, f: CachedFeatures) {
      await mkdir(dir, { recursive: true });
      const layers = f.items[0]?.length ?? 0;
      const size = f.tokens * f.channels;
      const out = new Uint8Array(20 + f.items.length * layers * size * 4);
      new Uint32Array(out.buffer, 0, 5).set([MAGIC, f.items.length, layers, f.tokens, f.channels]);
      const body = new Float32Array(out.buffer, 20);
      f.items.forEach((item, i) => item.forEach((l, j) => body.set(l, (i * layers + j) * size)));
      await writeFileAtomic(file(key), out);
    },
  };
}
