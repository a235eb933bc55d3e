import type { ConfigOverrides } from '../checkpoint/infer-config.ts';
import { loadCheckpoint } from '../checkpoint/load.ts';
import { InputError } from '../errors.ts';
import type { ModelManifest, PreprocessConfig } from '../types.ts';
import { MANIFEST_FILE, openModelFolder, parseManifest, type ModelContent } from './manifest.ts';

/**
 * A model as bytes in memory, wherever they came from (files on disk, a download, a drop in the page): a model
 * folder's files by name (manifest.json among them), or one checkpoint (.pth / .safetensors).
 */
export type ModelSource =
  | { files: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>; name?: string }
  | { checkpoint: Uint8Array; name: string; overrides?: ConfigOverrides };

/** An opened model: its content, and what its folder says (preprocessing, calibration) when it is a folder. */
export interface OpenedModel { content: ModelContent; name: string; preprocess?: PreprocessConfig; manifest?: ModelManifest }

/** Opens a model folder (every file verified against the manifest's sha256) or a checkpoint; errors name the file. */
export async function openModel(source: ModelSource): Promise<OpenedModel> {
  if ('checkpoint' in source) {
    const c = loadCheckpoint(source.checkpoint, source.name, source.overrides ?? {});
    const content: ModelContent = c.kind === 'inp-former'
      ? { kind: 'inp-former', config: c.config, tensors: c.tensors }
      : { kind: 'encoder', encoder: c.encoder, tensors: c.tensors };
    return { content, name: source.name };
  }
  const files = source.files instanceof Map ? source.files as ReadonlyMap<string, Uint8Array> : new Map(Object.entries(source.files));
  const where = source.name ?? 'model folder';
  const mf = files.get(MANIFEST_FILE);
  if (!mf) throw new InputError(where, `has no ${MANIFEST_FILE}: not a model folder (give a checkpoint as { checkpoint, name })`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(mf));
  } catch (e) {
    throw new InputError(`${where}/${MANIFEST_FILE}`, `not valid JSON (${(e as Error).message})`);
  }
  const manifest = parseManifest(json, `${where}/${MANIFEST_FILE}`);
  const content = await openModelFolder(manifest, new Map(files), where);
  return { content, name: manifest.name, preprocess: manifest.preprocess, manifest };
}
