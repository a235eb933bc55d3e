import { CheckpointError } from '../errors.ts';
import type { DType, TensorMap } from '../types.ts';
import { DTYPE_BYTES, decodeTensor, numel } from './dtype.ts';
import { unpickle, type PickleValue, type TensorRef } from './pickle.ts';
import { readZipEntries } from './zip.ts';

const STORAGE_DTYPE: Record<string, DType> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

function isTensor(v: PickleValue): v is TensorRef {
  return !!v && typeof v === 'object' && 'kind' in v && v.kind === 'tensor';
}

/** Copies a strided view out of its storage into C order (torch checkpoints may hold views of shared storages). */
function gather(storage: Uint8Array, t: TensorRef, elem: number): Uint8Array {
  const n = numel(t.shape);
  const contiguousStrides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const contiguous = t.shape.every((d, i) => d === 1 || t.stride[i] === contiguousStrides[i]);
  if (contiguous) return storage.subarray(t.offset * elem, (t.offset + n) * elem);
  const out = new Uint8Array(n * elem);
  const idx = new Array(t.shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let src = t.offset;
    for (let d = 0; d < idx.length; d++) src += idx[d] * t.stride[d];
    out.set(storage.subarray(src * elem, (src + 1) * elem), i * elem);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Reads a PyTorch checkpoint written by torch.save (zip + protocol-2 pickle) into named tensors, in state-dict order.
 * The folder inside the zip is named after the file stem (model/data.pkl), so it is found, not assumed.
 * A state dict nested under "state_dict" or "model" is unwrapped.
 */
export function readPth(bytes: Uint8Array, where: string): TensorMap {
  const entries = readZipEntries(bytes, where);
  const pkls = [...entries.keys()].filter((k) => /^[^/]+\/data\.pkl$/.test(k));
  if (pkls.length !== 1) throw new CheckpointError(where, `expected one <name>/data.pkl in the zip, found ${pkls.length}`);
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  let root = unpickle(entries.get(pkls[0])!(), where);
  if (root instanceof Map && !isTensor([...root.values()][0] ?? null)) {
    const inner = root.get('state_dict') ?? root.get('model');
    if (inner instanceof Map) root = inner;
  }
  if (!(root instanceof Map)) throw new CheckpointError(where, 'the pickle does not hold a state dict');
  const storages = new Map<string, Uint8Array>();
  const out: TensorMap = new Map();
  for (const [key, value] of root) {
    if (typeof key !== 'string') throw new CheckpointError(where, 'state dict key is not a string');
    if (!isTensor(value)) throw new CheckpointError(`${where}: ${key}`, 'value is not a tensor');
    const dtype = STORAGE_DTYPE[value.storage.storageType];
    if (!dtype) throw new CheckpointError(`${where}: ${key}`, `unsupported storage type ${value.storage.storageType}`);
    const elem = DTYPE_BYTES[dtype];
    let storage = storages.get(value.storage.key);
    if (!storage) {
      const name = `${prefix}data/${value.storage.key}`;
      const get = entries.get(name);
      if (!get) throw new CheckpointError(`${where}: ${key}`, `storage record ${name} is missing from the zip`);
      storage = get();
      if (storage.byteLength < value.storage.numel * elem) {
        throw new CheckpointError(`${where}: ${key}`, `storage record ${name} has ${storage.byteLength} bytes, needs ${value.storage.numel * elem}`);
      }
      storages.set(value.storage.key, storage);
    }
    const n = numel(value.shape);
    let maxIndex = value.offset;
    value.shape.forEach((d, i) => { if (d > 0) maxIndex += (d - 1) * value.stride[i]; });
    if (n > 0 && (maxIndex + 1) * elem > storage.byteLength) {
      throw new CheckpointError(`${where}: ${key}`, 'tensor view extends past its storage');
    }
    out.set(key, decodeTensor(dtype, value.shape, gather(storage, value, elem)));
  }
  return out;
}
