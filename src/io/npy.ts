import { InputError } from '../errors.ts';

/**
 * NumPy .npy for float32 C-order arrays: what `predict --save-maps` writes, so maps open with `np.load`.
 * The header is laid out exactly as NumPy ≥ 1.24 writes it (byte-identical files).
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** NumPy's ARRAY_ALIGN: data starts at a multiple of 64 bytes, so the file can be memory-mapped. */
const ALIGN = 64;
/** NumPy's GROWTH_AXIS_MAX_DIGITS: spare spaces so the first dimension can grow in place. */
const GROWTH_DIGITS = 21;

/** Python's repr of a shape tuple: (), (5,), (3, 4). */
function shapeRepr(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || shape.reduce((a, b) => a * b, 1) !== data.length) {
    throw new RangeError(`encodeNpy: shape ${shapeRepr(shape)} does not hold ${data.length} values`);
  }
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) header += ' '.repeat(GROWTH_DIGITS - String(shape[0]).length);
  // Version 1.0: magic (6) + version (2) + u16 length (2), then the header padded with spaces and a final '\n'.
  const hlen = header.length + 1;
  const padded = hlen + ALIGN - ((10 + hlen) % ALIGN);
  header = `${header.padEnd(padded - 1, ' ')}\n`;
  const out = new Uint8Array(10 + padded + data.byteLength);
  out.set(MAGIC);
  out.set([1, 0], 6);
  new DataView(out.buffer).setUint16(8, padded, true);
  out.set(new TextEncoder().encode(header), 10);
  // Float32Array is little-endian on every platform we run on, which is what '<f4' means.
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + padded);
  return out;
}

/** Reads a float32 C-order .npy (versions 1–3). `where` names the file in errors. */
export function decodeNpy(bytes: Uint8Array, where = 'npy'): { data: Float32Array; shape: number[] } {
  if (bytes.length < 10 || !MAGIC.every((m, i) => bytes[i] === m)) throw new InputError(where, 'not a .npy file (no \\x93NUMPY magic)');
  const version = bytes[6];
  if (version < 1 || version > 3) throw new InputError(where, `unsupported .npy version ${version}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = version === 1 ? 10 : 12;
  const hlen = version === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (start + hlen > bytes.length) throw new InputError(where, 'header runs past the end of the file (truncated?)');
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr !== '<f4' || fortran !== 'False' || dims === undefined) {
    throw new InputError(where, `only little-endian float32 C-order arrays are supported; header is ${header.trim()}`);
  }
  const shape = dims.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const body = bytes.subarray(start + hlen);
  if (!shape.every(Number.isInteger) || body.byteLength !== n * 4) {
    throw new InputError(where, `shape ${shapeRepr(shape)} needs ${n * 4} data bytes, the file has ${body.byteLength}`);
  }
  // Copy: the data offset need not be 4-byte aligned within `bytes`' buffer. new Uint8Array(view) copies;
  // Buffer#slice (Node's readFile result) would return a view of the shared pool instead.
  return { data: new Float32Array(new Uint8Array(body).buffer), shape };
}
