import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.ts';
import { decodeNpy, encodeNpy } from '../../../src/io/npy.ts';

const header = (b: Uint8Array) => new TextDecoder().decode(b.subarray(10, 10 + new DataView(b.buffer).getUint16(8, true)));

describe('.npy float32 files', () => {
  it('writes the header byte for byte as NumPy ≥ 1.24 np.save does', () => {
    const a = Float32Array.from({ length: 12 }, (_, i) => i / 7);
    const b = encodeNpy(a, [3, 4]);
    expect(Array.from(b.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    // np.save(f, np.zeros((3, 4), np.float32)) with NumPy 1.24 and 2.4: header length 118, data at byte 128.
    const want = `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }${' '.repeat(58)}\n`;
    expect(header(b)).toBe(want);
    expect(want.length).toBe(118);
    expect(b.length).toBe(128 + 48);
    expect(Buffer.from(b.subarray(128))).toEqual(Buffer.from(a.buffer));
  });

  it('round-trips 0-D, 1-D and 4-D arrays with 64-byte aligned data', () => {
    for (const shape of [[], [5], [1, 1, 256, 256], [2, 0]]) {
      const n = shape.reduce((x, y) => x * y, 1);
      const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3);
      const b = encodeNpy(a, shape);
      expect((b.length - a.byteLength) % 64).toBe(0);
      expect(header(b)).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \((\d+(, \d+)*|\d+,)?\), \} *\n$/);
      const back = decodeNpy(b, 'x.npy');
      expect(back.shape).toEqual(shape);
      expect(Buffer.compare(Buffer.from(back.data.buffer), Buffer.from(a.buffer))).toBe(0);
    }
    expect(header(encodeNpy(new Float32Array(5), [5]))).toContain("'shape': (5,), }");
  });

  it('refuses a shape that does not match the data', () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(/shape \(2, 3\) does not hold 5 values/);
  });

  it('decode errors name the file', () => {
    const good = encodeNpy(new Float32Array(6), [2, 3]);
    const f64 = good.slice();
    f64.set(new TextEncoder().encode("'<f8'"), header(good).indexOf("'<f4'") + 10);
    const fortran = good.slice();
    fortran.set(new TextEncoder().encode('True, '), header(good).indexOf('False') + 10);
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode('PK\x03\x04 not npy'), /^m\.npy: not a \.npy file/],
      [f64, /only little-endian float32 C-order/],
      [fortran, /only little-endian float32 C-order/],
      [good.subarray(0, good.length - 4), /needs 24 data bytes, the file has 20/],
      [good.subarray(0, 50), /header runs past the end/],
    ];
    for (const [b, msg] of cases) {
      expect(() => decodeNpy(b, 'm.npy')).toThrow(InputError);
      expect(() => decodeNpy(b, 'm.npy')).toThrow(msg);
    }
  });

  it('reads a Node Buffer that is a view into a shared pool (as readFileSync returns small files)', () => {
    const bytes = encodeNpy(Float32Array.from([1.5, -2, 3]), [3]);
    const pooled = Buffer.from(bytes); // small Buffers live at an offset inside Node's 8 KiB pool
    const d = decodeNpy(pooled, 'pooled.npy');
    expect(d.data.length).toBe(3);
    expect(Array.from(d.data)).toEqual([1.5, -2, 3]);
  });
});
