import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigOverrides } from '../checkpoint/infer-config.ts';
import { loadCheckpoint } from '../checkpoint/load.ts';
import { InputError } from '../errors.ts';
import type { ModelManifest, PreprocessConfig } from '../types.ts';
import { MANIFEST_FILE, openModelFolder, parseManifest, type ModelContent } from './manifest.ts';

/**
 * Writes a model folder atomically: everything goes into a temporary sibling, which then replaces `dir`.
 * Refuses a path that is a file, or an existing folder that is not a model folder (nothing of the user's is lost).
 */
export async function writeModelFolder(dir: string, built: { manifest: ModelManifest; files: Map<string, Uint8Array> }): Promise<void> {
  const s = await stat(dir).catch(() => undefined);
  if (s && !s.isDirectory()) throw new InputError(dir, 'output path exists and is not a folder');
  if (s && (await readdir(dir)).length > 0 && !existsSync(path.join(dir, MANIFEST_FILE))) {
    throw new InputError(dir, 'folder exists and is not a model folder; choose an empty or new path');
  }
  const tmp = `${dir.replace(/[\\/]+$/, '')}.tmp-${process.pid}-${Date.now()}`;
  try {
    await mkdir(tmp, { recursive: true });
    for (const [name, bytes] of built.files) await writeFile(path.join(tmp, name), bytes);
    await writeFile(path.join(tmp, MANIFEST_FILE), `${JSON.stringify(built.manifest, null, 2)}\n`);
    if (s) {
      const old = `${tmp}-old`;
      await rename(dir, old);
      await rename(tmp, dir);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, dir);
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof InputError) throw e;
    throw new InputError(dir, `cannot write model folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export async function readModelFolder(dir: string): Promise<{ manifest: ModelManifest; content: ModelContent }> {
  const mf = path.join(dir, MANIFEST_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(mf, 'utf8'));
  } catch (e) {
    throw new InputError(mf, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found: not a model folder' : `not valid JSON (${(e as Error).message})`);
  }
  const manifest = parseManifest(json, mf);
  const files = new Map<string, Uint8Array>();
  for (const name of Object.keys(manifest.files)) {
    const f = path.join(dir, name);
    files.set(name, new Uint8Array(await readFile(f).catch(() => { throw new InputError(f, 'file listed in manifest.json is missing'); })));
  }
  return { manifest, content: await openModelFolder(manifest, files, dir) };
}

export interface ResolvedModel { content: ModelContent; preprocess?: PreprocessConfig; manifest?: ModelManifest; name: string }

/** A model folder or a checkpoint file (.pth / .safetensors), whichever `p` is. */
export async function loadModelFromPath(p: string, overrides: ConfigOverrides = {}): Promise<ResolvedModel> {
  const s = await stat(p).catch(() => undefined);
  if (!s) throw new InputError(p, 'model not found');
  if (s.isDirectory()) {
    const { manifest, content } = await readModelFolder(p);
    return { content, preprocess: manifest.preprocess, manifest, name: manifest.name };
  }
  const bytes = new Uint8Array(await readFile(p));
  const c = loadCheckpoint(bytes, p, overrides);
  const content: ModelContent = c.kind === 'inp-former'
    ? { kind: 'inp-former', config: c.config, tensors: c.tensors }
    : { kind: 'encoder', encoder: c.encoder, tensors: c.tensors };
  return { content, name: path.basename(p) };
}
