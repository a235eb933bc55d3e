import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../src/errors.ts';
import { writeFileAtomic } from '../../src/platform/node/files.ts';

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

/** Exit status of a batch command that finished but skipped inputs it could not read (0 ok, 1 failed, 2 usage, 130 stopped). */
export const EXIT_PARTIAL = 3;

/**
 * A batch job's unreadable inputs: a corrupt or unsupported image is skipped and named, not the end of the job.
 * `settle` refuses a run where every input failed, else writes `failures.json` beside the outputs and answers
 * EXIT_PARTIAL, the command's exit status, so a script can tell a partial result from a whole one.
 */
export function inputFailures(label: string) {
  const failed: Array<{ file: string; error: string }> = [];
  return {
    failed,
    /** Runs `job` for one input; an InputError about it is recorded and undefined returned. */
    async attempt<T>(file: string, job: () => Promise<T>): Promise<T | undefined> {
      try {
        return await job();
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        failed.push({ file, error: e.message });
        console.error(`${label}: skipped ${e.message}`);
        return undefined;
      }
    },
    /** 0, or EXIT_PARTIAL once failures.json is written. */
    async settle(total: number, outDir: string): Promise<number> {
      if (!failed.length) return 0;
      if (failed.length === total) throw new InputError('images', `none could be read (${failed.length} of ${failed.length}); the first: ${failed[0].error}`);
      await writeFileAtomic(path.join(outDir, 'failures.json'), `${JSON.stringify(failed, null, 2)}\n`);
      console.error(`${label}: ${failed.length} of ${total} images skipped (listed in ${path.join(outDir, 'failures.json')}); exit status ${EXIT_PARTIAL}`);
      return EXIT_PARTIAL;
    },
  };
}
