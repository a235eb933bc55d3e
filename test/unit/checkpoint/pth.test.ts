import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { readPth } from '../../../src/checkpoint/pth.ts';
import { fixture, HAS_FIXTURES, skipReason } from '../../helpers/shared.ts';

const SKIP = HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`;

function checkAgainstIndex(rel: string[]): void {
  const file = fixture(...rel);
  const index = JSON.parse(readFileSync(`${file}.index.json`, 'utf8'));
  const tensors = readPth(new Uint8Array(readFileSync(file)), file);
  const entries = Object.entries<any>(index.tensors ?? index);
  const names = entries.filter(([, v]) => v && v.sha256).map(([k]) => k);
  expect([...tensors.keys()]).toEqual(names);
  for (const [name, info] of entries.filter(([, v]) => v && v.sha256)) {
    const t = tensors.get(name)!;
    expect(t.shape, name).toEqual(info.shape);
    const d = t.data;
    const raw = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    expect(createHash('sha256').update(raw).digest('hex'), name).toBe(info.sha256);
  }
}

/** A hand-made torch.save-style archive: pickle bytes + storages, folder named after the stem. */
function makePth(pickle: number[], storages: Record<string, Uint8Array>, stem = 'tiny'): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 }]> = { [`${stem}/data.pkl`]: [Uint8Array.from(pickle), { level: 0 }] };
  for (const [k, v] of Object.entries(storages)) files[`${stem}/data/${k}`] = [v, { level: 0 }];
  files[`${stem}/version`] = [new TextEncoder().encode('3\n'), { level: 0 }];
  return zipSync(files);
}

const enc = (s: string) => [...new TextEncoder().encode(s)];
const short = (s: string) => [0x8c, s.length, ...enc(s)];
const global = (m: string, n: string) => [0x63, ...enc(`${m}\n${n}\n`)];
/** OrderedDict with one tensor `w` = _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()). */
function tensorPickle(storageType: string, numel: number, offset: number, size: number[], stride: number[]): number[] {
  const tuple = (xs: number[]) => [0x28, ...xs.flatMap((x) => [0x4b, x]), 0x74];
  return [0x80, 2, ...global('collections', 'OrderedDict'), 0x29, 0x52,
    ...short('w'),
    ...global('torch._utils', '_rebuild_tensor_v2'),
    0x28,
    0x28, ...short('storage'), ...global('torch', storageType), ...short('0'), ...short('cpu'), 0x4b, numel, 0x74, 0x51,
    0x4b, offset, ...tuple(size), ...tuple(stride), 0x89, ...global('collections', 'OrderedDict'), 0x29, 0x52,
    0x74, 0x52, 0x73, 0x2e];
}

describe('PyTorch .pth reader', () => {
  it.skipIf(!HAS_FIXTURES)(`reads inp-tiny/model.pth: names, shapes and sha256 match the index${SKIP}`, () => {
    checkAgainstIndex(['inp-tiny', 'model.pth']);
  });

  it.skipIf(!HAS_FIXTURES)(`reads the ResNet-18 .pth incl. int64 0-dim tensors${SKIP}`, () => {
    checkAgainstIndex(['resnet18', 'resnet18-imagenet-l3.pth']);
  });

  it('decodes F16 and BF16 storages and strided views with a storage offset', () => {
    const half = new Uint16Array([0x3c00, 0x4000, 0xc200, 0x3800, 0, 0x7bff]); // 1, 2, -3, 0.5, 0, 65504
    const f16 = readPth(makePth(tensorPickle('HalfStorage', 6, 0, [2, 3], [3, 1]), { 0: new Uint8Array(half.buffer) }), 'h.pth');
    expect(Array.from(f16.get('w')!.data as Float32Array)).toEqual([1, 2, -3, 0.5, 0, 65504]);
    const bf = new Uint16Array([0x3f80, 0xc040]); // 1, -3
    const b16 = readPth(makePth(tensorPickle('BFloat16Storage', 2, 0, [2], [1]), { 0: new Uint8Array(bf.buffer) }), 'b.pth');
    expect(Array.from(b16.get('w')!.data as Float32Array)).toEqual([1, -3]);
    // storage [0..9]; view offset 1, size [2,3], stride [1,2] (a transposed slice) -> [[1,3,5],[2,4,6]]
    const st = Float32Array.from({ length: 10 }, (_, i) => i);
    const v = readPth(makePth(tensorPickle('FloatStorage', 10, 1, [2, 3], [1, 2]), { 0: new Uint8Array(st.buffer) }), 'v.pth');
    expect(Array.from(v.get('w')!.data as Float32Array)).toEqual([1, 3, 5, 2, 4, 6]);
  });

  it('refuses pickles that ask for anything but tensors', () => {
    const evil = [0x80, 2, ...global('os', 'system'), ...short('echo pwned'), 0x85, 0x52, 0x2e];
    expect(() => readPth(makePth(evil, {}), 'evil.pth')).toThrow(/evil\.pth.*os\.system/);
    const evil2 = [0x80, 2, ...global('builtins', 'eval'), ...short('1+1'), 0x85, 0x52, 0x2e];
    expect(() => readPth(makePth(evil2, {}), 'evil2.pth')).toThrow(/builtins\.eval/);
    const inst = [0x80, 2, 0x69, ...enc('os\nsystem\n'), 0x2e]; // INST opcode
    expect(() => readPth(makePth(inst, {}), 'inst.pth')).toThrow(/opcode 0x69/);
  });

  it('gives clear errors for empty, non-zip, truncated and incomplete files', () => {
    expect(() => readPth(new Uint8Array(0), 'empty.pth')).toThrow(/empty\.pth: file is empty/);
    expect(() => readPth(new TextEncoder().encode('hello, this is not a checkpoint at all'), 'text.pth')).toThrow(/text\.pth: not a zip/);
    const good = makePth(tensorPickle('FloatStorage', 4, 0, [4], [1]), { 0: new Uint8Array(16) });
    expect(() => readPth(good.subarray(0, good.length - 30), 'cut.pth')).toThrow(/cut\.pth/);
    const noStorage = makePth(tensorPickle('FloatStorage', 4, 0, [4], [1]), {});
    expect(() => readPth(noStorage, 'nostore.pth')).toThrow(/nostore\.pth: w: storage record tiny\/data\/0 is missing/);
    const short4 = makePth(tensorPickle('FloatStorage', 4, 0, [4], [1]), { 0: new Uint8Array(8) });
    expect(() => readPth(short4, 's.pth')).toThrow(/has 8 bytes, needs 16/);
  });
});
