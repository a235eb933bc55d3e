import { validateConfig, validateEncoderConfig } from '../checkpoint/infer-config.ts';
import { checkFinite, expectedEncoderShapes, validateStateDict, validateTensors } from '../checkpoint/load.ts';
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.ts';
import { InputError } from '../errors.ts';
import { OFFICIAL_PREPROCESS } from '../preprocess/preprocess.ts';
import { validateCnnEncoderConfig } from '../encoder/cnn-config.ts';
import { parseRefineConfig, REFINE_FILE, validateRefineTensors, type RefineHead } from '../refine/config.ts';
import type {
  Calibration, InpFormerConfig, KnnConfig, ModelFileEntry, ModelManifest, PreprocessConfig, TensorMap, VitEncoderConfig,
} from '../types.ts';

/**
 * Our model folder: manifest.json (config, preprocessing, calibration, sha256 of every file) + weights.safetensors
 * under official INP-Former key names. Everything here is pure (bytes in, bytes out), so it runs in the browser.
 */
export const WEIGHTS_FILE = 'weights.safetensors';
export const MANIFEST_FILE = 'manifest.json';

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export interface BuildOptions {
  name: string;
  /** Float storage of the weights; F16 halves the folder, the model still computes in float32. */
  dtype?: 'F32' | 'F16';
  preprocess?: PreprocessConfig;
  calibration?: Calibration;
  source?: { file: string; format: string };
}

/**
 * What a model folder holds: an INP-Former, a bare encoder (a converted DINOv2, for training), or a kNN detector
 * (`memory_bank` plus, for the ResNets, the encoder's torchvision tensors under `encoder.`; the nsfwjs encoder is
 * read from the installed package instead, so its weights are never copied).
 */
export type ModelContent =
  | { kind: 'inp-former'; config: InpFormerConfig; tensors: TensorMap; refine?: RefineHead }
  | { kind: 'encoder'; encoder: VitEncoderConfig; tensors: TensorMap }
  | { kind: 'knn'; knn: KnnConfig; tensors: TensorMap; refine?: RefineHead };

/** Name of the kNN memory bank tensor [bankSize, dim]. */
export const MEMORY_BANK = 'memory_bank';

export interface BuiltModelFolder { manifest: ModelManifest; files: Map<string, Uint8Array> }

function checkContent(content: ModelContent, where: string, refineWhere = `${where}: ${REFINE_FILE}`): void {
  if (content.kind !== 'encoder' && content.refine) validateRefineTensors(content.refine.tensors, content.refine.config, refineWhere);
  if (content.kind === 'inp-former') validateStateDict(content.tensors, content.config, where);
  else if (content.kind === 'encoder') validateTensors(content.tensors, expectedEncoderShapes(content.encoder), where);
  else {
    const bank = content.tensors.get(MEMORY_BANK);
    const want = [content.knn.bankSize, content.knn.dim];
    if (!bank) throw new InputError(`${where}: ${MEMORY_BANK}`, 'tensor is missing');
    if (bank.shape.join() !== want.join()) throw new InputError(`${where}: ${MEMORY_BANK}`, `has shape [${bank.shape}], the manifest says [${want}]`);
    // A NaN in the bank makes every distance NaN, so predict would answer a null score instead of an error.
    checkFinite(content.tensors, where);
  }
}

function validateKnnConfig(k: unknown, where: string): asserts k is KnnConfig {
  check(isObject(k), where, 'knn', 'must be an object');
  validateCnnEncoderConfig(k.encoder, `${where}: knn`);
  for (const f of ['bankSize', 'dim', 'images']) check(Number.isSafeInteger(k[f]) && (k[f] as number) > 0, where, `knn.${f}`, `must be a positive integer, got ${show(k[f])}`);
  check(isNum(k.coresetRatio) && k.coresetRatio > 0 && k.coresetRatio <= 1, where, 'knn.coresetRatio', `must be in (0, 1], got ${show(k.coresetRatio)}`);
  check(Number.isSafeInteger(k.seed), where, 'knn.seed', `must be an integer, got ${show(k.seed)}`);
}

/**
 * Manifest + file bytes of a model folder (the caller writes them). The tensors are checked against the config
 * and the manifest against `parseManifest` first, so a folder that cannot be read back is never produced.
 */
export async function buildModelFolder(content: ModelContent, o: BuildOptions): Promise<BuiltModelFolder> {
  checkContent(content, o.name);
  const metadata = { format: 'pt', producer: 'inp-former-annotate' };
  const files = new Map([[WEIGHTS_FILE, writeSafetensors(content.tensors, { dtype: o.dtype ?? 'F32', metadata })]]);
  const refine = content.kind !== 'encoder' ? content.refine : undefined;
  // The head is small: always float32, so a refined folder's head does not depend on --dtype.
  if (refine) files.set(REFINE_FILE, writeSafetensors(refine.tensors, { dtype: 'F32', metadata }));
  const entries: Record<string, ModelFileEntry> = {};
  for (const [name, bytes] of files) entries[name] = { sha256: await sha256Hex(bytes), bytes: bytes.byteLength };
  const manifest = parseManifest({
    format: 'inp-former-model', formatVersion: 1, name: o.name, kind: content.kind,
    ...(content.kind === 'inp-former' ? { config: content.config } : content.kind === 'knn' ? { knn: content.knn } : { encoder: content.encoder }),
    preprocess: o.preprocess ?? OFFICIAL_PREPROCESS,
    ...(o.calibration ? { calibration: o.calibration } : {}),
    ...(refine ? { refine: refine.config } : {}),
    files: entries,
    ...(o.source ? { source: o.source } : {}),
  }, `model "${o.name}"`);
  return { manifest, files };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const show = (v: unknown) => JSON.stringify(v) ?? String(v);
/** Plain file names only: a manifest must never point outside its folder. */
const SAFE_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function check(cond: boolean, where: string, field: string, what: string): asserts cond {
  if (!cond) throw new InputError(`${where}: ${field}`, what);
}

function parsePreprocess(p: unknown, where: string): PreprocessConfig {
  check(isObject(p), where, 'preprocess', 'must be an object');
  check(p.protocol === 'official' || p.protocol === 'annotate', where, 'preprocess.protocol', `must be "official" or "annotate", got ${show(p.protocol)}`);
  for (const k of ['resize', 'crop', 'mapSize']) {
    check(Number.isSafeInteger(p[k]) && (p[k] as number) > 0, where, `preprocess.${k}`, `must be a positive integer, got ${show(p[k])}`);
  }
  if (p.protocol === 'official') {
    check((p.crop as number) <= (p.resize as number), where, 'preprocess.crop', `${p.crop} is larger than resize ${p.resize}`);
  }
  for (const k of ['mean', 'std']) {
    const v = p[k];
    check(Array.isArray(v) && v.length === 3 && v.every(isNum), where, `preprocess.${k}`, `must be 3 numbers, got ${show(v)}`);
  }
  check((p.std as number[]).every((s) => s > 0), where, 'preprocess.std', 'must be positive');
  return {
    protocol: p.protocol, resize: p.resize as number, crop: p.crop as number, mapSize: p.mapSize as number,
    mean: [...(p.mean as [number, number, number])], std: [...(p.std as [number, number, number])],
  };
}

function parseCalibration(c: unknown, where: string): Calibration {
  check(isObject(c), where, 'calibration', 'must be an object');
  const methods = ['normals-quantile', 'f1-adaptive', 'manual'];
  check(methods.includes(c.method as string), where, 'calibration.method', `must be one of ${methods.join(', ')}, got ${show(c.method)}`);
  for (const k of ['pixelThreshold', 'min', 'max']) check(isNum(c[k]), where, `calibration.${k}`, `must be a number, got ${show(c[k])}`);
  for (const k of ['imageThreshold', 'imageMin', 'imageMax']) check(c[k] === undefined || isNum(c[k]), where, `calibration.${k}`, `must be a number, got ${show(c[k])}`);
  check(c.inputs === undefined || isObject(c.inputs), where, 'calibration.inputs', 'must be an object');
  return {
    method: c.method as Calibration['method'], pixelThreshold: c.pixelThreshold as number, min: c.min as number, max: c.max as number,
    ...(c.imageThreshold !== undefined ? { imageThreshold: c.imageThreshold as number } : {}),
    ...(c.imageMin !== undefined && c.imageMax !== undefined ? { imageMin: c.imageMin as number, imageMax: c.imageMax as number } : {}),
    ...(c.inputs !== undefined ? { inputs: c.inputs as Record<string, unknown> } : {}),
  };
}

function parseFiles(f: unknown, where: string): Record<string, ModelFileEntry> {
  check(isObject(f), where, 'files', 'must be an object of file name → {sha256, bytes}');
  check(isObject(f[WEIGHTS_FILE]), where, `files.${WEIGHTS_FILE}`, 'is missing');
  const files: Record<string, ModelFileEntry> = {};
  for (const [name, e] of Object.entries(f)) {
    check(SAFE_FILE.test(name) && name !== MANIFEST_FILE, where, `files.${name}`, 'must be a plain file name inside the model folder');
    check(isObject(e), where, `files.${name}`, 'must be an object {sha256, bytes}');
    check(typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256), where, `files.${name}.sha256`, `must be 64 lowercase hex digits, got ${show(e.sha256)}`);
    check(Number.isSafeInteger(e.bytes) && (e.bytes as number) >= 0, where, `files.${name}.bytes`, `must be a byte count, got ${show(e.bytes)}`);
    files[name] = { sha256: e.sha256, bytes: e.bytes as number };
  }
  return files;
}

/**
 * Validates manifest.json field by field and returns a clean copy (unknown fields dropped). Errors name the
 * field, e.g. "manifest.json: preprocess.crop: must be a positive integer".
 */
export function parseManifest(json: unknown, where: string): ModelManifest {
  check(isObject(json), where, 'manifest', 'must be a JSON object');
  const m = json;
  check(m.format === 'inp-former-model', where, 'format', `must be "inp-former-model", got ${show(m.format)}`);
  check(m.formatVersion === 1, where, 'formatVersion', `unsupported version ${show(m.formatVersion)} (this build reads 1)`);
  check(typeof m.name === 'string' && m.name.length > 0, where, 'name', 'must be a non-empty string');
  check(m.kind === 'inp-former' || m.kind === 'encoder' || m.kind === 'knn', where, 'kind', `must be "inp-former", "encoder" or "knn", got ${show(m.kind)}`);
  const model: Pick<ModelManifest, 'config' | 'encoder' | 'knn'> = {};
  if (m.kind === 'inp-former') {
    validateConfig(m.config, where);
    model.config = m.config;
  } else if (m.kind === 'knn') {
    validateKnnConfig(m.knn, where);
    model.knn = m.knn;
  } else {
    validateEncoderConfig(m.encoder, where);
    model.encoder = m.encoder;
  }
  const preprocess = parsePreprocess(m.preprocess, where);
  const calibration = m.calibration === undefined ? undefined : parseCalibration(m.calibration, where);
  const files = parseFiles(m.files, where);
  check(m.refine === undefined || m.kind !== 'encoder', where, 'refine', 'an encoder-only model has no map to refine');
  const refine = m.refine === undefined ? undefined : parseRefineConfig(m.refine, where);
  check(!refine || isObject(files[REFINE_FILE]), where, `files.${REFINE_FILE}`, 'is missing (the manifest has a refine block)');
  const s = m.source;
  check(s === undefined || (isObject(s) && typeof s.file === 'string' && typeof s.format === 'string'), where, 'source', 'must be {file, format} strings');
  return {
    format: 'inp-former-model', formatVersion: 1, name: m.name, kind: m.kind, ...model, preprocess,
    ...(calibration ? { calibration } : {}), ...(refine ? { refine } : {}), files,
    ...(s ? { source: { file: (s as Json).file as string, format: (s as Json).format as string } } : {}),
  };
}

/** Checks that every file the manifest lists is present with its recorded size and sha256. */
export async function verifyModelFiles(manifest: ModelManifest, files: Map<string, Uint8Array>, where: string): Promise<void> {
  for (const [name, entry] of Object.entries(manifest.files)) {
    const bytes = files.get(name);
    const at = `${where}/${name}`;
    if (!bytes) throw new InputError(at, 'file listed in manifest.json is missing');
    if (bytes.byteLength !== entry.bytes) throw new InputError(at, `is ${bytes.byteLength} bytes, manifest.json says ${entry.bytes} (incomplete download or copy?)`);
    if ((await sha256Hex(bytes)) !== entry.sha256) throw new InputError(at, 'sha256 does not match manifest.json (file corrupted or replaced)');
  }
}

/** Verifies the files, then reads the weights and checks them against the manifest's config. */
export async function openModelFolder(manifest: ModelManifest, files: Map<string, Uint8Array>, where: string): Promise<ModelContent> {
  await verifyModelFiles(manifest, files, where);
  const wWhere = `${where}/${WEIGHTS_FILE}`;
  const tensors = readSafetensors(files.get(WEIGHTS_FILE)!, wWhere).tensors;
  const refine = manifest.refine
    ? { refine: { config: manifest.refine, tensors: readSafetensors(files.get(REFINE_FILE)!, `${where}/${REFINE_FILE}`).tensors } } : {};
  const content: ModelContent = manifest.kind === 'inp-former' ? { kind: 'inp-former', config: manifest.config!, tensors, ...refine }
    : manifest.kind === 'knn' ? { kind: 'knn', knn: manifest.knn!, tensors, ...refine }
    : { kind: 'encoder', encoder: manifest.encoder!, tensors };
  checkContent(content, wWhere, `${where}/${REFINE_FILE}`);
  return content;
}
