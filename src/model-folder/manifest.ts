import { validateConfig } from '../checkpoint/infer-config.ts';
import { expectedEncoderShapes, expectedShapes, validateTensors } from '../checkpoint/load.ts';
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.ts';
import { InputError } from '../errors.ts';
import { OFFICIAL_PREPROCESS } from '../preprocess/preprocess.ts';
import type { Calibration, InpFormerConfig, ModelManifest, PreprocessConfig, TensorMap, VitEncoderConfig } from '../types.ts';

export const WEIGHTS_FILE = 'weights.safetensors';
export const MANIFEST_FILE = 'manifest.json';

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export interface BuildOptions {
  name: string;
  dtype?: 'F32' | 'F16';
  preprocess?: PreprocessConfig;
  calibration?: Calibration;
  source?: { file: string; format: string };
}

export type ModelContent =
  | { kind: 'inp-former'; config: InpFormerConfig; tensors: TensorMap }
  | { kind: 'encoder'; encoder: VitEncoderConfig; tensors: TensorMap };

/** Manifest + file bytes of a model folder (pure: the caller writes them). Weights keep the official key names. */
export async function buildModelFolder(content: ModelContent, o: BuildOptions): Promise<{ manifest: ModelManifest; files: Map<string, Uint8Array> }> {
  const weights = writeSafetensors(content.tensors, { dtype: o.dtype ?? 'F32', metadata: { format: 'pt', producer: 'inp-former-annotate' } });
  const manifest: ModelManifest = {
    format: 'inp-former-model', formatVersion: 1, name: o.name, kind: content.kind,
    ...(content.kind === 'inp-former' ? { config: content.config } : { encoder: content.encoder }),
    preprocess: o.preprocess ?? OFFICIAL_PREPROCESS,
    ...(o.calibration ? { calibration: o.calibration } : {}),
    files: { [WEIGHTS_FILE]: { sha256: await sha256Hex(weights), bytes: weights.byteLength } },
    ...(o.source ? { source: o.source } : {}),
  };
  return { manifest, files: new Map([[WEIGHTS_FILE, weights]]) };
}

function field(cond: boolean, where: string, name: string, what: string): void {
  if (!cond) throw new InputError(`${where}: ${name}`, what);
}

/** Validates manifest.json field by field; the error names the field. */
export function parseManifest(json: unknown, where: string): ModelManifest {
  const m = json as Record<string, any>;
  field(!!m && typeof m === 'object', where, 'manifest', 'must be a JSON object');
  field(m.format === 'inp-former-model', where, 'format', `must be "inp-former-model", got ${JSON.stringify(m.format)}`);
  field(m.formatVersion === 1, where, 'formatVersion', `unsupported version ${JSON.stringify(m.formatVersion)} (this build reads 1)`);
  field(typeof m.name === 'string', where, 'name', 'must be a string');
  field(m.kind === 'inp-former' || m.kind === 'encoder', where, 'kind', `must be "inp-former" or "encoder", got ${JSON.stringify(m.kind)}`);
  if (m.kind === 'inp-former') {
    field(!!m.config && typeof m.config === 'object' && !!m.config.encoder, where, 'config', 'must describe the model (with config.encoder)');
    validateConfig(m.config, where);
  } else {
    field(!!m.encoder && typeof m.encoder === 'object', where, 'encoder', 'must describe the encoder');
  }
  const p = m.preprocess;
  field(!!p && (p.protocol === 'official' || p.protocol === 'annotate'), where, 'preprocess.protocol', 'must be "official" or "annotate"');
  for (const k of ['resize', 'crop', 'mapSize']) field(Number.isInteger(p[k]) && p[k] > 0, where, `preprocess.${k}`, 'must be a positive integer');
  for (const k of ['mean', 'std']) field(Array.isArray(p[k]) && p[k].length === 3 && p[k].every(Number.isFinite), where, `preprocess.${k}`, 'must be 3 numbers');
  field(!!m.files && typeof m.files[WEIGHTS_FILE] === 'object', where, `files.${WEIGHTS_FILE}`, 'is missing');
  for (const [f, e] of Object.entries<any>(m.files)) {
    field(typeof e?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256), where, `files.${f}.sha256`, 'must be 64 hex digits');
    field(Number.isInteger(e?.bytes) && e.bytes >= 0, where, `files.${f}.bytes`, 'must be a byte count');
  }
  return m as ModelManifest;
}

/** Checks each file's size and sha256 against the manifest, then reads and validates the weights. */
export async function openModelFolder(manifest: ModelManifest, files: Map<string, Uint8Array>, where: string): Promise<ModelContent> {
  for (const [name, entry] of Object.entries(manifest.files)) {
    const bytes = files.get(name);
    if (!bytes) throw new InputError(`${where}/${name}`, 'file listed in manifest.json is missing');
    if (bytes.byteLength !== entry.bytes) throw new InputError(`${where}/${name}`, `is ${bytes.byteLength} bytes, manifest says ${entry.bytes} (incomplete download or copy?)`);
    if ((await sha256Hex(bytes)) !== entry.sha256) throw new InputError(`${where}/${name}`, 'sha256 does not match manifest.json (file corrupted or replaced)');
  }
  const wWhere = `${where}/${WEIGHTS_FILE}`;
  const tensors = readSafetensors(files.get(WEIGHTS_FILE)!, wWhere).tensors;
  if (manifest.kind === 'inp-former') {
    validateTensors(tensors, expectedShapes(manifest.config!), wWhere);
    return { kind: 'inp-former', config: manifest.config!, tensors };
  }
  validateTensors(tensors, expectedEncoderShapes(manifest.encoder!), wWhere);
  return { kind: 'encoder', encoder: manifest.encoder!, tensors };
}
