import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readPth } from '../../../src/checkpoint/pth.ts';
import { CheckpointError } from '../../../src/errors.ts';
import { fixture, HAS_FIXTURES, skipReason } from '../../helpers/shared.ts';
import { bytesOf, makePth, op, stateDictPickle, tensorOps } from './pth-bytes.ts';

const SKIP = HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`;

interface IndexEntry { dtype: string; shape: number[]; sha256: string }

function checkAgainstIndex(...rel: string[]): void {
  const file = fixture(...rel);
  const index = JSON.parse(readFileSync(`${file}.index.json`, 'utf8')) as { tensors: Record<string, IndexEntry> };
  const tensors = readPth(new Uint8Array(readFileSync(file)), file);
  expect([...tensors.keys()]).toEqual(Object.keys(index.tensors));
  for (const [name, info] of Object.entries(index.tensors)) {
    const t = tensors.get(name)!;
    expect(t.shape, name).toEqual(info.shape);
    expect(t.dtype, name).toBe(info.dtype);
    expect(createHash('sha256').update(bytesOf(t.data)).digest('hex'), name).toBe(info.sha256);
  }
}

const F = (xs: number[]) => bytesOf(Float32Array.from(xs));
const read = (pkl: Uint8Array | number[], storages: Record<string, Uint8Array>, name = 't.pth') => readPth(makePth(pkl, storages), name);
const values = (m: Map<string, { data: ArrayLike<number> | BigInt64Array }>, k: string) => Array.from(m.get(k)!.data as ArrayLike<number>);

describe('PyTorch .pth reader: fixtures', () => {
  it.skipIf(!HAS_FIXTURES)(`reads inp-tiny/model.pth: names, order, shapes, dtypes and sha256 match the index${SKIP}`, () => {
    checkAgainstIndex('inp-tiny', 'model.pth');
  });

  it.skipIf(!HAS_FIXTURES)(`reads the ResNet-18 .pth incl. int64 0-dim tensors${SKIP}`, () => {
    checkAgainstIndex('resnet18', 'resnet18-imagenet-l3.pth');
  });

  it.skipIf(!HAS_FIXTURES)(`returns views into the file for aligned float32 records instead of copying${SKIP}`, () => {
    const bytes = new Uint8Array(readFileSync(fixture('inp-tiny', 'model.pth')));
    const t = readPth(bytes, 'model.pth').get('prototype_token')!;
    expect(t.data.buffer).toBe(bytes.buffer);
  });
});

describe('PyTorch .pth reader: synthetic checkpoints', () => {
  it('decodes F16 and BF16 storages', () => {
    const half = new Uint16Array([0x3c00, 0x4000, 0xc200, 0x3800, 0x8000, 0x7bff]); // 1, 2, -3, 0.5, -0, 65504
    const f16 = read(stateDictPickle({ w: { storageType: 'HalfStorage', key: '0', numel: 6, size: [2, 3] } }), { 0: bytesOf(half) });
    expect(f16.get('w')!.dtype).toBe('F16');
    expect(values(f16, 'w')).toEqual([1, 2, -3, 0.5, -0, 65504]);
    const bf = new Uint16Array([0x3f80, 0xc040, 0x3e00]); // 1, -3, 0.125
    const b16 = read(stateDictPickle({ w: { storageType: 'BFloat16Storage', key: '0', numel: 3, size: [3] } }), { 0: bytesOf(bf) });
    expect(b16.get('w')!.dtype).toBe('BF16');
    expect(values(b16, 'w')).toEqual([1, -3, 0.125]);
  });

  it('gathers non-contiguous views with a storage offset, shared storages, and every integer dtype', () => {
    const st = F(Array.from({ length: 12 }, (_, i) => i));
    const m = read(stateDictPickle({
      // storage [0..11]; offset 1, size [2,3], stride [1,2]: a transposed slice -> [[1,3,5],[2,4,6]]
      t: { storageType: 'FloatStorage', key: '0', numel: 12, offset: 1, size: [2, 3], stride: [1, 2] },
      // same storage, offset 6, contiguous [2,3] -> [[6,7,8],[9,10,11]]
      c: { storageType: 'FloatStorage', key: '0', numel: 12, offset: 6, size: [2, 3] },
      // 3-D view with a non-unit inner stride: size [2,2,2], stride [6,3,1] at offset 0, then inner stride 2
      g: { storageType: 'FloatStorage', key: '0', numel: 12, offset: 0, size: [2, 2, 2], stride: [6, 1, 2] },
      // broadcast (stride 0) and 0-dim
      b: { storageType: 'FloatStorage', key: '0', numel: 12, offset: 5, size: [3], stride: [0] },
      s: { storageType: 'FloatStorage', key: '0', numel: 12, offset: 11, size: [], stride: [] },
      l: { storageType: 'LongStorage', key: '1', numel: 2, size: [2] },
      i: { storageType: 'IntStorage', key: '2', numel: 2, size: [2] },
      h: { storageType: 'ShortStorage', key: '3', numel: 2, size: [2] },
      c8: { storageType: 'CharStorage', key: '4', numel: 2, size: [2] },
      u8: { storageType: 'ByteStorage', key: '5', numel: 2, size: [2] },
      bo: { storageType: 'BoolStorage', key: '6', numel: 2, size: [2] },
      d: { storageType: 'DoubleStorage', key: '7', numel: 2, size: [2] },
    }), {
      0: st, 1: bytesOf(BigInt64Array.from([-5n, 1n << 40n])), 2: bytesOf(Int32Array.from([-7, 9])),
      3: bytesOf(Int16Array.from([-300, 300])), 4: bytesOf(Int8Array.from([-1, 2])), 5: Uint8Array.from([200, 1]),
      6: Uint8Array.from([1, 0]), 7: bytesOf(Float64Array.from([0.1, -2.5])),
    });
    expect(values(m, 't')).toEqual([1, 3, 5, 2, 4, 6]);
    expect(values(m, 'c')).toEqual([6, 7, 8, 9, 10, 11]);
    expect(values(m, 'g')).toEqual([0, 2, 1, 3, 6, 8, 7, 9]);
    expect(values(m, 'b')).toEqual([5, 5, 5]);
    expect(m.get('s')!.shape).toEqual([]);
    expect(values(m, 's')).toEqual([11]);
    expect(Array.from(m.get('l')!.data as BigInt64Array)).toEqual([-5n, 1n << 40n]);
    expect([values(m, 'i'), values(m, 'h'), values(m, 'c8'), values(m, 'u8'), values(m, 'bo'), values(m, 'd')])
      .toEqual([[-7, 9], [-300, 300], [-1, 2], [200, 1], [1, 0], [0.1, -2.5]]);
    expect(['l', 'i', 'h', 'c8', 'u8', 'bo', 'd'].map((k) => m.get(k)!.dtype)).toEqual(['I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'F64']);
  });

  it('reads parameters, large integers, deflated entries, any archive folder name and wrapped state dicts', () => {
    const spec = { storageType: 'FloatStorage', key: '0', numel: 70000, size: [70000], parameter: true };
    const big = F(Array.from({ length: 70000 }, (_, i) => i % 7));
    for (const level of [0, 6] as const) {
      const m = readPth(makePth(stateDictPickle({ w: spec }), { 0: big }, { stem: 'my model.v2', level }), 'p.pth');
      expect(values(m, 'w').slice(0, 9)).toEqual([0, 1, 2, 3, 4, 5, 6, 0, 1]);
    }
    for (const wrap of ['state_dict', 'model']) {
      const m = read(stateDictPickle({ w: { storageType: 'FloatStorage', key: '0', numel: 2, size: [2] } }, wrap), { 0: F([3, 4]) });
      expect([...m.keys()]).toEqual(['w']);
    }
    // LONG1 sizes (a pickle writes ints ≥ 2^31 this way) decode to numbers
    const long = [...op.proto, ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce, ...op.str('w'),
      ...tensorOps({ storageType: 'FloatStorage', key: '0', numel: 2, size: [2] }).map((b, i, a) => b), ...op.setitem, ...op.stop];
    expect(values(read(long, { 0: F([1, 2]) }), 'w')).toEqual([1, 2]);
  });
});

describe('PyTorch .pth reader: refuses unsafe or broken input', () => {
  const evil = (body: number[]) => () => read([...op.proto, ...body, ...op.stop], {}, 'evil.pth');

  it('never calls anything outside the allow-list, naming the global or opcode', () => {
    expect(evil([...op.global('os', 'system'), ...op.str('echo pwned'), 0x85, ...op.reduce])).toThrow(/evil\.pth: data\.pkl: refers to os\.system, which a state dict never needs/);
    expect(evil([...op.global('builtins', 'eval'), ...op.str('1+1'), 0x85, ...op.reduce])).toThrow(/builtins\.eval/);
    expect(evil([...op.str('posix'), ...op.str('system'), 0x93])).toThrow(/posix\.system/); // STACK_GLOBAL
    expect(evil([0x69, ...new TextEncoder().encode('os\nsystem\n')])).toThrow(/opcode INST \(0x69\) at byte 2/);
    expect(evil([...op.global('collections', 'OrderedDict'), ...op.emptyTuple, 0x81])).toThrow(/opcode NEWOBJ/);
    expect(evil([0x4c, ...new TextEncoder().encode('1\n')])).toThrow(/opcode LONG/);
    // an allowed global used where it was not meant to be: OrderedDict as a storage type, REDUCE on a string
    const fakeStorage = [...op.mark, ...op.str('storage'), ...op.global('collections', 'OrderedDict'), ...op.str('0'), ...op.str('cpu'), ...op.int(1), ...op.tuple, ...op.binpersid];
    expect(evil(fakeStorage)).toThrow(/persistent id is not a torch storage/);
    expect(evil([...op.str('x'), ...op.emptyTuple, ...op.reduce])).toThrow(/REDUCE on something that is not an allowed global/);
    expect(evil([...op.emptyDict, ...op.str('state'), ...op.build])).toThrow(/BUILD is only supported/);
  });

  it('names the file for empty, non-zip, legacy, truncated and incomplete archives', () => {
    const good = makePth(stateDictPickle({ w: { storageType: 'FloatStorage', key: '0', numel: 4, size: [4] } }), { 0: new Uint8Array(16) });
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /^empty\.pth: file is empty/],
      [new TextEncoder().encode('hello, this is not a checkpoint at all'), /^text\.pth: not a zip archive/],
      [Uint8Array.from([0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]), /^legacy\.pth: legacy torch\.save format/],
      [good.subarray(0, good.length - 30), /^cut\.pth: zip end-of-central-directory record not found/],
      [good.subarray(0, 60), /^cut2\.pth: zip end-of-central-directory/],
      [makePth(stateDictPickle({}), {}).subarray(0), /^ok/],
    ];
    const names = ['empty.pth', 'text.pth', 'legacy.pth', 'cut.pth', 'cut2.pth'];
    cases.slice(0, 5).forEach(([bytes, re], i) => {
      const err = (() => { try { readPth(bytes, names[i]); } catch (e) { return e; } return undefined; })();
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toMatch(re);
    });
  });

  it('names missing pickles, storages and short records', () => {
    const w4 = stateDictPickle({ w: { storageType: 'FloatStorage', key: '0', numel: 4, size: [4] } });
    const { zipSync } = require('fflate') as typeof import('fflate');
    expect(() => readPth(zipSync({ 'a/version': new Uint8Array(1) }), 'nopkl.pth')).toThrow(/nopkl\.pth: expected exactly one <name>\/data\.pkl in the zip, found none/);
    expect(() => read(w4, {}, 'nostore.pth')).toThrow(/nostore\.pth: w: storage record tiny\/data\/0 is missing/);
    expect(() => read(w4, { 0: new Uint8Array(8) }, 's.pth')).toThrow(/s\.pth: w: storage record tiny\/data\/0 has 8 bytes, needs 16/);
    const view = stateDictPickle({ w: { storageType: 'FloatStorage', key: '0', numel: 4, offset: 2, size: [4] } });
    expect(() => read(view, { 0: new Uint8Array(16) }, 'v.pth')).toThrow(/v\.pth: w: view \(offset 2, size \[4\], stride \[1\]\) extends past its 4-element storage/);
    const truncatedPickle = w4.subarray(0, w4.length - 20);
    expect(() => read(truncatedPickle, { 0: new Uint8Array(16) }, 'tp.pth')).toThrow(/tp\.pth: data\.pkl: pickle is truncated/);
  });

  it('refuses files built to exhaust memory before allocating, naming the file: a giant pickle, a zip bomb, a stride-0 giant view, a runaway stack', () => {
    const { zipSync } = require('fflate') as typeof import('fflate');
    // 20 MB of zeros deflate to about 20 kB: a pickle this size is no state dict.
    const bomb = zipSync({ 'b/data.pkl': [new Uint8Array(20 * 2 ** 20), { level: 9 }], 'b/version': new TextEncoder().encode('3\n') });
    expect(bomb.byteLength).toBeLessThan(100_000);
    expect(() => readPth(bomb, 'bomb.pth')).toThrow(/bomb\.pth: b\/data\.pkl declares 20971520 bytes; a state dict's pickle is far smaller/);
    // A header that claims more than DEFLATE can expand.
    const lie = zipSync({ 'l/data.pkl': [new Uint8Array(4096), { level: 9 }] });
    const dv = new DataView(lie.buffer);
    for (let i = lie.length - 22; i >= 0; i--) {
      if (dv.getUint32(i, true) === 0x02014b50) { dv.setUint32(i + 24, 2 ** 31, true); break; }
    }
    expect(() => readPth(lie, 'lie.pth')).toThrow(/lie\.pth: zip entry l\/data\.pkl claims 2147483648 bytes from \d+ compressed/);
    // size [100000, 100000] with stride [0, 0] over a 1-element storage: 10^10 elements.
    const giant = stateDictPickle({ w: { storageType: 'FloatStorage', key: '0', numel: 1, size: [100000, 100000], stride: [0, 0] } });
    expect(() => read(giant, { 0: new Uint8Array(4) }, 'giant.pth')).toThrow(/giant\.pth: w: tensor of size \[100000,100000\] would take 40000000000 bytes/);
    // EMPTY_LIST pushed two million times.
    const runaway = Uint8Array.from([0x80, 0x02, ...new Array(2_000_000).fill(0x5d), 0x2e]);
    expect(() => read(runaway, {}, 'stack.pth')).toThrow(/stack\.pth: data\.pkl: pickle stack grows past 1000000 items/);
  });
});
