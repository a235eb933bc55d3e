import { CheckpointError } from '../errors.ts';
import type { DType, HostTensor, TensorMap } from '../types.ts';
import { DTYPE_BYTES, decodeTensor, floatToHalf, numel } from './dtype.ts';

const KNOWN: ReadonlySet<string> = new Set(Object.keys(DTYPE_BYTES));

/**
 * Reads a .safetensors buffer (u64 LE header length, JSON header, raw LE data).
 * `where` names the file in errors.
 */
export function readSafetensors(bytes: Uint8Array, where = 'safetensors'): { tensors: TensorMap; metadata: Record<string, string> } {
  if (bytes.byteLength < 8) throw new CheckpointError(where, `file is ${bytes.byteLength} bytes, too short for a safetensors header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > bytes.byteLength) {
    throw new CheckpointError(where, `header length ${headerLen} does not fit in a ${bytes.byteLength}-byte file (not a safetensors file, or truncated)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new CheckpointError(where, `header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = raw as Record<string, string>; continue; }
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!info || typeof info.dtype !== 'string' || !KNOWN.has(info.dtype)) {
      throw new CheckpointError(`${where}: ${name}`, `unsupported dtype ${JSON.stringify(info?.dtype)}`);
    }
    const shape = info.shape;
    const off = info.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0) || !Array.isArray(off) || off.length !== 2) {
      throw new CheckpointError(`${where}: ${name}`, 'malformed shape or data_offsets');
    }
    const [b, e] = off;
    const dtype = info.dtype as DType;
    if (!(b >= 0 && e >= b && e <= dataLen) || e - b !== numel(shape) * DTYPE_BYTES[dtype]) {
      throw new CheckpointError(`${where}: ${name}`, `data_offsets [${b}, ${e}] do not match ${dtype}${JSON.stringify(shape)} within ${dataLen} data bytes (truncated file?)`);
    }
    tensors.set(name, decodeTensor(dtype, shape, bytes.subarray(dataStart + b, dataStart + e)));
  }
  return { tensors, metadata };
}

export interface WriteOptions {
  /** Store float tensors as F16 instead of F32. */
  dtype?: 'F32' | 'F16';
  metadata?: Record<string, string>;
}

function encode(t: HostTensor, as: 'F32' | 'F16'): { dtype: DType; bytes: Uint8Array } {
  const d = t.data;
  if (d instanceof Float32Array || d instanceof Float64Array) {
    if (as === 'F16') {
      const h = new Uint16Array(d.length);
      for (let i = 0; i < d.length; i++) h[i] = floatToHalf(d[i]);
      return { dtype: 'F16', bytes: new Uint8Array(h.buffer) };
    }
    const f = d instanceof Float32Array ? d : Float32Array.from(d);
    return { dtype: 'F32', bytes: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
  }
  return { dtype: t.dtype, bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
}

/** Writes tensors (in map order) to a safetensors buffer. Header padded with spaces to a multiple of 8. */
export function writeSafetensors(tensors: TensorMap, opts: WriteOptions = {}): Uint8Array {
  const as = opts.dtype ?? 'F32';
  const parts: Uint8Array[] = [];
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const { dtype, bytes } = encode(t, as);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.byteLength), true);
  out.set(hb, 8);
  let p = 8 + hb.byteLength;
  for (const b of parts) { out.set(b, p); p += b.byteLength; }
  return out;
}
