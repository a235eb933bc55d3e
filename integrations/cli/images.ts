import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../src/errors.ts';

const IMAGE_EXT = /\.(png|jpe?g)$/i;

/** Files as given, and the PNG/JPEG files of each folder sorted by name (not recursive). */
export async function collectImages(inputs: string[]): Promise<string[]> {
  if (!inputs.length) throw new InputError('images', 'no image files or folders given');
  const out: string[] = [];
  for (const p of inputs) {
    const s = await stat(p).catch(() => undefined);
    if (!s) throw new InputError(p, 'not found');
    if (s.isDirectory()) {
      const names = (await readdir(p)).filter((n) => IMAGE_EXT.test(n)).sort();
      if (!names.length) throw new InputError(p, 'folder holds no .png/.jpg/.jpeg images');
      out.push(...names.map((n) => path.join(p, n)));
    } else {
      out.push(p);
    }
  }
  return out;
}

/** `maps/<stem>.npy` needs unique stems; two inputs with one stem would overwrite each other. */
export function stemsOf(files: string[]): string[] {
  const seen = new Map<string, string>();
  return files.map((f) => {
    const stem = path.basename(f).replace(/\.[^.]+$/, '');
    const prev = seen.get(stem);
    if (prev) throw new InputError(f, `has the same name stem "${stem}" as ${prev}; their outputs would collide`);
    seen.set(stem, f);
    return stem;
  });
}

export async function readInput(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
