import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../errors.ts';
import { decodeImage } from '../../image/decode.ts';
import type { RgbImage } from '../../types.ts';

/** Creates `dir` (and parents) as an output folder; a clear error if it exists as a file or cannot be made. */
export async function ensureOutputDir(dir: string): Promise<void> {
  const s = await stat(dir).catch(() => undefined);
  if (s && !s.isDirectory()) throw new InputError(dir, 'output path exists and is not a folder');
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new InputError(dir, `cannot create output folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Writes a file so that readers never see a half-written one: write a temporary sibling, then rename over the
 * target (atomic on one filesystem). The temporary file is removed if anything fails.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempOf(file);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new InputError(file, `cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

const TEMP = /^\..+\.\d+\.\d+\.tmp$/;
const tempOf = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);

/**
 * Writes a set of files that belong together (one export): every file to a temporary sibling first, then all
 * renamed into place, so a crash while writing leaves the previous set (and stray temporaries, which
 * removeStaleTemporaries clears), never some new files beside some old ones for long. Directories must exist.
 */
export async function writeFilesTogether(files: ReadonlyArray<readonly [file: string, data: Uint8Array | string]>): Promise<void> {
  const staged: Array<[string, string]> = [];
  try {
    for (const [file, data] of files) {
      const tmp = tempOf(file);
      staged.push([tmp, file]);
      await writeFile(tmp, data);
    }
  } catch (e) {
    await Promise.all(staged.map(([tmp]) => rm(tmp, { force: true })));
    const [, file] = staged[staged.length - 1] ?? ['', ''];
    throw new InputError(file, `cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  for (const [tmp, file] of staged) await rename(tmp, file);
}

/** Removes temporaries a killed run left in `dir` (files named like writeFileAtomic's, nothing else). */
export async function removeStaleTemporaries(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((n) => TEMP.test(n));
  await Promise.all(stale.map((n) => rm(path.join(dir, n), { force: true })));
  return stale.length;
}

/** A PNG or JPEG file, decoded to 8-bit RGB (EXIF orientation applied); errors name the file. */
export async function readImageFile(file: string): Promise<RgbImage> {
  const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => { throw new InputError(file, e.code === 'ENOENT' ? 'not found' : `cannot read (${e.code ?? e.message})`); });
  return decodeImage(new Uint8Array(bytes), file);
}
