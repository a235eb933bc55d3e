import type { DType, HostTensor } from '../types.ts';

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Record<DType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** IEEE half -> float32, exact. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/**
 * Decodes little-endian bytes into a HostTensor. Float types become Float32Array (F64 stays Float64Array),
 * so the model code sees one element type. `bytes` may be any view; it is copied.
 */
export function decodeTensor(dtype: DType, shape: number[], bytes: Uint8Array): HostTensor {
  const n = numel(shape);
  const need = n * DTYPE_BYTES[dtype];
  if (bytes.byteLength !== need) {
    throw new Error(`expected ${need} bytes for ${dtype}${JSON.stringify(shape)}, got ${bytes.byteLength}`);
  }
  const copy = bytes.slice(); // aligned, owned
  const buf = copy.buffer;
  switch (dtype) {
    case 'F32': return { dtype, shape, data: new Float32Array(buf, 0, n) };
    case 'F64': return { dtype, shape, data: new Float64Array(buf, 0, n) };
    case 'I64': return { dtype, shape, data: new BigInt64Array(buf, 0, n) };
    case 'I32': return { dtype, shape, data: new Int32Array(buf, 0, n) };
    case 'I16': return { dtype, shape, data: new Int16Array(buf, 0, n) };
    case 'I8': return { dtype, shape, data: new Int8Array(buf, 0, n) };
    case 'U8': case 'BOOL': return { dtype, shape, data: new Uint8Array(buf, 0, n) };
    case 'F16': {
      const src = new Uint16Array(buf, 0, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(src[i]);
      return { dtype, shape, data: out };
    }
    case 'BF16': {
      const src = new Uint16Array(buf, 0, n);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
      return { dtype, shape, data: new Float32Array(bits.buffer) };
    }
  }
}

/** float32 -> IEEE half with round-to-nearest-even (for F16 model export). */
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

export function floatToHalf(v: number): number {
  F32[0] = v;
  const x = U32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}
