import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new InputError(file, `cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** A PNG or JPEG file, decoded to 8-bit RGB (EXIF orientation applied); errors name the file. */
export async function readImageFile(file: string): Promise<RgbImage> {
  const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => { throw new InputError(file, e.code === 'ENOENT' ? 'not found' : `cannot read (${e.code ?? e.message})`); });
  return decodeImage(new Uint8Array(bytes), file);
}
