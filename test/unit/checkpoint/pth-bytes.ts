import { zipSync } from 'fflate';

/** Hand-assembled protocol-2 pickles and torch.save-style zips, so the reader is tested without Python. */

const enc = (s: string) => [...new TextEncoder().encode(s)];

export const op = {
  proto: [0x80, 2],
  mark: [0x28],
  tuple: [0x74],
  emptyTuple: [0x29],
  emptyDict: [0x7d],
  reduce: [0x52],
  setitem: [0x73],
  setitems: [0x75],
  binpersid: [0x51],
  build: [0x62],
  newfalse: [0x89],
  stop: [0x2e],
  str: (s: string) => (s.length < 256 ? [0x8c, s.length, ...enc(s)] : [0x58, ...u32(s.length), ...enc(s)]),
  int: (n: number) => (n < 256 ? [0x4b, n] : n < 65536 ? [0x4d, n & 0xff, n >> 8] : [0x4a, ...u32(n)]),
  long1: (n: bigint, bytes: number) => [0x8a, bytes, ...Array.from({ length: bytes }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn))],
  global: (m: string, n: string) => [0x63, ...enc(`${m}\n${n}\n`)],
};

function u32(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
}

const intTuple = (xs: number[]) => [...op.mark, ...xs.flatMap(op.int), ...op.tuple];

export interface TensorSpec {
  storageType: string;
  key: string;
  numel: number;
  offset?: number;
  size: number[];
  stride?: number[];
  /** Wrap in torch._utils._rebuild_parameter, as a state dict saved with keep_vars=True does. */
  parameter?: boolean;
}

function contiguousStride(size: number[]): number[] {
  return size.map((_, i) => size.slice(i + 1).reduce((a, b) => a * b, 1));
}

/** `_rebuild_tensor_v2(('storage', torch.T, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`. */
export function tensorOps(t: TensorSpec): number[] {
  const rebuild = [
    ...op.global('torch._utils', '_rebuild_tensor_v2'),
    ...op.mark,
    ...op.mark, ...op.str('storage'), ...op.global('torch', t.storageType), ...op.str(t.key), ...op.str('cpu'), ...op.int(t.numel), ...op.tuple,
    ...op.binpersid,
    ...op.int(t.offset ?? 0), ...intTuple(t.size), ...intTuple(t.stride ?? contiguousStride(t.size)),
    ...op.newfalse, ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce,
    ...op.tuple, ...op.reduce,
  ];
  if (!t.parameter) return rebuild;
  return [...op.global('torch._utils', '_rebuild_parameter'), ...op.mark, ...rebuild, ...op.newfalse,
    ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce, ...op.tuple, ...op.reduce];
}

/** OrderedDict of tensors, with the `_metadata` BUILD torch adds; `wrapKey` nests it as {wrapKey: dict}. */
export function stateDictPickle(tensors: Record<string, TensorSpec>, wrapKey?: string): Uint8Array {
  const dict = [
    ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce,
    ...op.mark, ...Object.entries(tensors).flatMap(([k, t]) => [...op.str(k), ...tensorOps(t)]), ...op.setitems,
    ...op.emptyDict, ...op.str('_metadata'), ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce, ...op.setitem,
    ...op.build,
  ];
  const body = wrapKey ? [...op.emptyDict, ...op.str(wrapKey), ...dict, ...op.setitem, ...op.str('epoch'), ...op.int(7), ...op.setitem] : dict;
  return Uint8Array.from([...op.proto, ...body, ...op.stop]);
}

/** A torch.save-style archive: `<stem>/data.pkl`, `<stem>/data/<key>`, `<stem>/version`; stored unless `level`. */
export function makePth(pickle: Uint8Array | number[], storages: Record<string, Uint8Array>, o: { stem?: string; level?: 0 | 6 } = {}): Uint8Array {
  const stem = o.stem ?? 'tiny';
  const level = o.level ?? 0;
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = {
    [`${stem}/data.pkl`]: [Uint8Array.from(pickle), { level }],
  };
  for (const [k, v] of Object.entries(storages)) files[`${stem}/data/${k}`] = [v, { level }];
  files[`${stem}/version`] = [new TextEncoder().encode('3\n'), { level }];
  return zipSync(files);
}

export const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
