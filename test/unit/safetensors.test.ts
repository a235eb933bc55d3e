import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.ts';
import type { TensorMap } from '../../src/types.ts';
import { HAS_FIXTURES, loadFixtureTensors, skipReason } from '../helpers/shared.ts';

describe('safetensors', () => {
  it('round-trips F32 and F16 with a padded header', () => {
    const t: TensorMap = new Map([
      ['a', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-3, 65504]) }],
      ['b', { dtype: 'I64', shape: [], data: BigInt64Array.from([7n]) }],
    ]);
    const bytes = writeSafetensors(t, { metadata: { format: 'pt' } });
    const hl = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(hl % 8).toBe(0);
    const back = readSafetensors(bytes);
    expect(back.metadata.format).toBe('pt');
    expect(Array.from(back.tensors.get('a')!.data as Float32Array)).toEqual([1, -2, 3.5, 0, Math.fround(1e-3), 65504]);
    expect(back.tensors.get('b')!.data[0]).toBe(7n);
    const half = readSafetensors(writeSafetensors(t, { dtype: 'F16' })).tensors.get('a')!;
    expect(half.dtype).toBe('F16');
    expect(Array.from(half.data as Float32Array)).toEqual([1, -2, 3.5, 0, 0.0010004043579101562, 65504]);
  });

  it('rejects truncated and non-safetensors input naming the file', () => {
    expect(() => readSafetensors(new Uint8Array(3), 'x.safetensors')).toThrow(/x\.safetensors.*too short/);
    const good = writeSafetensors(new Map([['w', { dtype: 'F32', shape: [4], data: new Float32Array(4) }]]));
    expect(() => readSafetensors(good.subarray(0, good.length - 2), 'y.safetensors')).toThrow(/y\.safetensors: w.*truncated/);
    expect(() => readSafetensors(new TextEncoder().encode('PK\x03\x04garbage garbage'), 'z')).toThrow(/z: header/);
  });

  it.skipIf(!HAS_FIXTURES)(`reads the fixture files (${HAS_FIXTURES ? 'fixtures present' : skipReason('fixtures')})`, () => {
    const f = loadFixtureTensors('inp-tiny', 'forward.safetensors');
    expect(f.get('tokens')!.shape).toEqual([2, 69, 128]);
    expect(f.get('cluster_index')!.dtype).toBe('I64');
  });
});
