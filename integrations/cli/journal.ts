import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AnnotatedImage } from '../../src/export/annotations.ts';
import { decodeCocoRle, encodeCocoRle, type CocoRle } from '../../src/export/coco-rle.ts';
import { removeStaleTemporaries, writeFileAtomic } from '../../src/platform/node/files.ts';

/**
 * annotate's per-run journal: each image's proposals, written (atomically) as soon as they are made, under
 * `<out>/.annotate-journal/`. A rerun with the same model, threshold and options after a crash or `kill -9` takes
 * the images already done from it and runs the model only on the rest; the outputs are then written from the whole
 * set as usual, and the journal is removed once they are in place. An entry counts only for the same settings and
 * the same input file (path, size, modification time): anything else is recomputed.
 */
export const JOURNAL_DIR = '.annotate-journal';

interface Entry { key: string; image: Omit<AnnotatedImage, 'regions'> & { regions: Array<Omit<AnnotatedImage['regions'][number], 'mask'> & { rle: CocoRle }> } }

export interface Journal {
  /** The image's proposals from an earlier run with the same settings, if any. */
  get(file: string): Promise<AnnotatedImage | undefined>;
  put(file: string, image: AnnotatedImage): Promise<void>;
  /** The outputs are written: the journal has done its job. */
  remove(): Promise<void>;
}

/** `settings` is everything the proposals depend on besides the input file (model, calibration, options, preprocessing). */
export async function openJournal(outDir: string, settings: unknown): Promise<Journal> {
  const dir = path.join(outDir, JOURNAL_DIR);
  const settingsHash = createHash('sha256').update(JSON.stringify(settings)).digest('hex');
  const keyOf = async (file: string) => {
    const s = await stat(file);
    return createHash('sha256').update(`${settingsHash}\n${path.resolve(file)}\n${s.size}\n${s.mtimeMs}`).digest('hex');
  };
  const entryPath = (key: string) => path.join(dir, `${key.slice(0, 32)}.json`);
  // A run killed while writing an entry leaves its temporary behind.
  await removeStaleTemporaries(dir).catch(() => 0);
  let made = false;
  return {
    async get(file) {
      const key = await keyOf(file);
      let e: Entry;
      try {
        e = JSON.parse(await readFile(entryPath(key), 'utf8')) as Entry;
      } catch {
        return undefined; // none yet, or a half-written one from a crash: recompute
      }
      if (e.key !== key) return undefined;
      return { ...e.image, regions: e.image.regions.map(({ rle, ...r }) => ({ ...r, mask: decodeCocoRle(rle, `${entryPath(key)}: region`) })) };
    },
    async put(file, image) {
      if (!made) { await mkdir(dir, { recursive: true }); made = true; }
      const key = await keyOf(file);
      const e: Entry = { key, image: { ...image, regions: image.regions.map(({ mask, ...r }) => ({ ...r, rle: encodeCocoRle(mask) })) } };
      await writeFileAtomic(entryPath(key), JSON.stringify(e));
    },
    async remove() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
