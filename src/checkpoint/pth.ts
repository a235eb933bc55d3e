import { CheckpointError } from '../errors.ts';
import type { DType, HostTensor, TensorMap } from '../types.ts';
import { DTYPE_BYTES, decodeTensor, numel } from './dtype.ts';
import { unpickle, type PickleValue, type TensorRef } from './pickle.ts';
import { readZipEntries } from './zip.ts';

/** Limits that keep a hostile file from exhausting memory before it is refused (real checkpoints stay far below). */
const MAX_PICKLE_BYTES = 16 * 2 ** 20;
const MAX_TENSOR_BYTES = 2 ** 31;

const STORAGE_DTYPE: Record<string, DType> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

function isTensor(v: PickleValue | undefined): v is TensorRef {
  return !!v && typeof v === 'object' && 'kind' in v && v.kind === 'tensor';
}

function isContiguous(t: TensorRef): boolean {
  let expected = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

/** Copies a strided view out of its storage into C order (a checkpoint may hold transposed or sliced views). */
function gather(storage: Uint8Array, t: TensorRef, elem: number): Uint8Array {
  const n = numel(t.shape);
  const out = new Uint8Array(n * elem);
  if (n === 0) return out;
  const rank = t.shape.length;
  const inner = t.shape[rank - 1];
  const innerStride = t.stride[rank - 1];
  const idx = new Array<number>(Math.max(0, rank - 1)).fill(0);
  for (let o = 0; o < n * elem;) {
    let src = t.offset;
    for (let d = 0; d < rank - 1; d++) src += idx[d] * t.stride[d];
    if (innerStride === 1) {
      out.set(storage.subarray(src * elem, (src + inner) * elem), o);
      o += inner * elem;
    } else {
      for (let i = 0; i < inner; i++, o += elem) {
        const s = (src + i * innerStride) * elem;
        for (let b = 0; b < elem; b++) out[o + b] = storage[s + b];
      }
    }
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Contiguous native-width data aligned to its element size (torch.save aligns records to 64 bytes) becomes a view
 * into the checkpoint bytes: a 600 MB-1.6 GB checkpoint is not copied. Half floats and unaligned data are decoded.
 */
function toHostTensor(dtype: DType, shape: number[], bytes: Uint8Array): HostTensor {
  const n = numel(shape);
  const { buffer, byteOffset } = bytes;
  if (byteOffset % DTYPE_BYTES[dtype] === 0) {
    switch (dtype) {
      case 'F32': return { dtype, shape, data: new Float32Array(buffer, byteOffset, n) };
      case 'F64': return { dtype, shape, data: new Float64Array(buffer, byteOffset, n) };
      case 'I64': return { dtype, shape, data: new BigInt64Array(buffer, byteOffset, n) };
      case 'I32': return { dtype, shape, data: new Int32Array(buffer, byteOffset, n) };
      case 'I16': return { dtype, shape, data: new Int16Array(buffer, byteOffset, n) };
      case 'I8': return { dtype, shape, data: new Int8Array(buffer, byteOffset, n) };
      case 'U8': case 'BOOL': return { dtype, shape, data: new Uint8Array(buffer, byteOffset, n) };
      default: break;
    }
  }
  return decodeTensor(dtype, shape, bytes);
}

/** Legacy (PyTorch < 1.6) torch.save files start with a pickled magic number instead of a zip header. */
function isLegacyTorchFile(bytes: Uint8Array): boolean {
  return bytes.byteLength > 2 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5;
}

/** The state dict itself, or the one a training script wrapped under "state_dict" or "model". */
function stateDictOf(root: PickleValue, where: string): Map<PickleValue, PickleValue> {
  if (root instanceof Map && ![...root.values()].some(isTensor)) {
    for (const k of ['state_dict', 'model']) {
      const inner = root.get(k);
      if (inner instanceof Map) return inner;
    }
  }
  if (!(root instanceof Map)) throw new CheckpointError(where, 'data.pkl does not hold a state dict (a dict of tensors)');
  return root;
}

/**
 * Reads a PyTorch checkpoint written by torch.save (zip + protocol-2 pickle) into named tensors, in state-dict
 * order. The folder inside the zip is the file stem (model/data.pkl), so it is found, not assumed. A state dict
 * nested under "state_dict" or "model" is unwrapped. Aligned F32/F64/integer tensors are views into `bytes`.
 */
export function readPth(bytes: Uint8Array, where: string): TensorMap {
  if (isLegacyTorchFile(bytes)) {
    throw new CheckpointError(where, 'legacy torch.save format (PyTorch < 1.6 or _use_new_zipfile_serialization=False) is not supported; re-save it with a current PyTorch');
  }
  const entries = readZipEntries(bytes, where);
  const pkls = [...entries.keys()].filter((k) => /^[^/]+\/data\.pkl$/.test(k));
  if (pkls.length !== 1) {
    throw new CheckpointError(where, `expected exactly one <name>/data.pkl in the zip, found ${pkls.length ? pkls.join(', ') : 'none'} (not a torch.save checkpoint?)`);
  }
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder && new TextDecoder().decode(byteorder()).trim() !== 'little') {
    throw new CheckpointError(where, 'checkpoint was saved on a big-endian machine; only little-endian data is supported');
  }
  // A state dict's pickle is small (names, shapes, storage keys: about 1 kB per tensor). A large one is not a
  // checkpoint, or one built to exhaust memory (a small deflated file can declare a gigabyte).
  const pkl = entries.get(pkls[0])!;
  if (pkl.size > MAX_PICKLE_BYTES) {
    throw new CheckpointError(where, `${pkls[0]} declares ${pkl.size} bytes; a state dict's pickle is far smaller (limit ${MAX_PICKLE_BYTES}): not a checkpoint, or a zip bomb`);
  }
  const dict = stateDictOf(unpickle(pkl(), where), where);
  const storages = new Map<string, Uint8Array>();
  const out: TensorMap = new Map();
  for (const [key, value] of dict) {
    if (typeof key !== 'string') throw new CheckpointError(where, `state dict key ${JSON.stringify(String(key))} is not a string`);
    const at = `${where}: ${key}`;
    if (!isTensor(value)) throw new CheckpointError(at, 'value is not a tensor');
    const dtype = STORAGE_DTYPE[value.storage.storageType];
    if (!dtype) throw new CheckpointError(at, `unsupported storage type torch.${value.storage.storageType}`);
    const elem = DTYPE_BYTES[dtype];
    let storage = storages.get(value.storage.key);
    if (!storage) {
      const name = `${prefix}data/${value.storage.key}`;
      const get = entries.get(name);
      if (!get) throw new CheckpointError(at, `storage record ${name} is missing from the zip`);
      storage = get();
      if (storage.byteLength < value.storage.numel * elem) {
        throw new CheckpointError(at, `storage record ${name} has ${storage.byteLength} bytes, needs ${value.storage.numel * elem} (file truncated?)`);
      }
      storages.set(value.storage.key, storage);
    }
    const n = numel(value.shape);
    // A stride-0 view of a tiny storage can name billions of elements; refuse before allocating them.
    if (n * elem > MAX_TENSOR_BYTES) throw new CheckpointError(at, `tensor of size [${value.shape}] would take ${n * elem} bytes (limit ${MAX_TENSOR_BYTES}): not a model weight`);
    let last = value.offset;
    value.shape.forEach((d, i) => { if (d > 0) last += (d - 1) * value.stride[i]; });
    if (n > 0 && (last + 1) * elem > storage.byteLength) {
      throw new CheckpointError(at, `view (offset ${value.offset}, size [${value.shape}], stride [${value.stride}]) extends past its ${storage.byteLength / elem}-element storage`);
    }
    const raw = isContiguous(value)
      ? storage.subarray(value.offset * elem, (value.offset + n) * elem)
      : gather(storage, value, elem);
    out.set(key, toHostTensor(dtype, value.shape, raw));
  }
  return out;
}
