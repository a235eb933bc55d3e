import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigOverrides } from '../../checkpoint/infer-config.ts';
import { InputError } from '../../errors.ts';
import type { ModelManifest } from '../../types.ts';
import { openModel, type OpenedModel } from '../../model-folder/open.ts';
import { MANIFEST_FILE, parseManifest, type BuiltModelFolder, type ModelContent } from '../../model-folder/manifest.ts';

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    const code = errCode(e);
    throw new InputError(file, code === 'ENOENT' ? 'not found' : code === 'ERR_FS_FILE_TOO_LARGE' ? 'file is larger than 2 GiB, which Node cannot read in one piece' : `cannot read (${code})`);
  }
}

/** A folder is ours to replace only if its manifest.json says it is a model folder. */
async function isModelFolder(dir: string): Promise<boolean> {
  try {
    return (JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as { format?: unknown }).format === 'inp-former-model';
  } catch {
    return false;
  }
}

/**
 * Writes a model folder atomically: everything goes into a temporary sibling, which then replaces `dir`, so a
 * reader never sees half a model. Refuses a path that is a file, and an existing non-empty folder that is not a
 * model folder (nothing of the user's is lost). An existing model folder is replaced as a whole.
 */
export async function writeModelFolder(dir: string, built: BuiltModelFolder): Promise<void> {
  const listed = Object.keys(built.manifest.files).sort().join();
  if (listed !== [...built.files.keys()].sort().join()) {
    throw new InputError(dir, `files to write (${[...built.files.keys()]}) differ from the manifest's (${listed})`);
  }
  const s = await stat(dir).catch(() => undefined);
  if (s && !s.isDirectory()) throw new InputError(dir, 'output path exists and is not a folder');
  if (s && (await readdir(dir)).length > 0 && !(await isModelFolder(dir))) {
    throw new InputError(dir, 'folder exists and is not a model folder; choose an empty or new path');
  }
  const base = dir.replace(/[\\/]+$/, '');
  const tmp = `${base}.tmp-${process.pid}-${Date.now()}`;
  const old = `${tmp}-old`;
  let moved = false;
  try {
    await mkdir(tmp, { recursive: true });
    for (const [name, bytes] of built.files) await writeFile(path.join(tmp, name), bytes);
    await writeFile(path.join(tmp, MANIFEST_FILE), `${JSON.stringify(built.manifest, null, 2)}\n`);
    if (s) { await rename(dir, old); moved = true; }
    await rename(tmp, dir);
  } catch (e) {
    if (moved) await rename(old, dir).catch(() => undefined); // put the previous model back
    await rm(tmp, { recursive: true, force: true });
    throw new InputError(dir, `cannot write model folder (${errCode(e)})`);
  }
  if (moved) await rm(old, { recursive: true, force: true });
}

/** Reads and verifies a model folder: manifest fields, every file's size and sha256, then the weights. */
export async function readModelFolder(dir: string): Promise<{ manifest: ModelManifest; content: ModelContent }> {
  const mf = path.join(dir, MANIFEST_FILE);
  const text = await readFile(mf, 'utf8').catch((e: unknown) => {
    throw new InputError(mf, errCode(e) === 'ENOENT' ? 'not found: not a model folder' : `cannot read (${errCode(e)})`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(mf, `not valid JSON (${(e as Error).message})`);
  }
  const manifest = parseManifest(json, mf);
  const files = new Map<string, Uint8Array>([[MANIFEST_FILE, new TextEncoder().encode(text)]]);
  for (const name of Object.keys(manifest.files)) files.set(name, await readBytes(path.join(dir, name)));
  const opened = await openModel({ files, name: dir });
  return { manifest, content: opened.content };
}

export type ResolvedModel = OpenedModel;

/**
 * A model folder or a checkpoint file (.pth / .safetensors), whichever `p` is. `overrides` apply to checkpoints
 * only: a model folder's manifest already fixes its config.
 */
export async function loadModelFromPath(p: string, overrides: ConfigOverrides = {}): Promise<OpenedModel> {
  const s = await stat(p).catch(() => undefined);
  if (!s) throw new InputError(p, 'model not found');
  if (s.isDirectory()) {
    const { manifest, content } = await readModelFolder(p);
    return { content, preprocess: manifest.preprocess, manifest, name: manifest.name };
  }
  return { ...(await openModel({ checkpoint: await readBytes(p), name: p, overrides })), name: path.basename(p) };
}
