import { CheckpointError } from '../errors.ts';

/**
 * A deliberately tiny pickle VM: only the opcodes and globals that torch.save(state_dict) emits. Anything else
 * (os.system, builtins.eval, arbitrary __reduce__) is refused by name, so loading a checkpoint can never run code.
 */

export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string { return `${this.module}.${this.name}`; }
}

/** A persistent id as torch writes it: ('storage', StorageType, key, location, numel). */
export interface StorageRef { kind: 'storage'; storageType: string; key: string; numel: number }

export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

export type PickleValue =
  | null | boolean | number | bigint | string
  | PickleValue[] | Map<PickleValue, PickleValue>
  | PickleGlobal | StorageRef | TensorRef | { kind: 'tuple'; items: PickleValue[] };

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...['Float', 'Half', 'BFloat16', 'Double', 'Long', 'Int', 'Short', 'Char', 'Byte', 'Bool'].map((t) => `torch.${t}Storage`),
]);

const MARK = Symbol('mark');
type Slot = PickleValue | typeof MARK;

function tupleItems(v: PickleValue, what: string, where: string): PickleValue[] {
  if (v && typeof v === 'object' && 'kind' in v && v.kind === 'tuple') return v.items;
  throw new CheckpointError(where, `pickle: ${what} must be a tuple`);
}

function asInt(v: PickleValue, what: string, where: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new CheckpointError(where, `pickle: ${what} must be an integer`);
}

function callGlobal(fn: PickleGlobal, args: PickleValue[], where: string): PickleValue {
  switch (fn.qualified) {
    case 'collections.OrderedDict':
      return new Map();
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, size, stride] = args;
      if (!storage || typeof storage !== 'object' || !('kind' in storage) || storage.kind !== 'storage') {
        throw new CheckpointError(where, 'pickle: _rebuild_tensor_v2 without a storage');
      }
      return {
        kind: 'tensor', storage,
        offset: asInt(offset, 'storage offset', where),
        shape: tupleItems(size, 'size', where).map((d) => asInt(d, 'size', where)),
        stride: tupleItems(stride, 'stride', where).map((d) => asInt(d, 'stride', where)),
      };
    }
    case 'torch._utils._rebuild_parameter':
      return args[0];
    default:
      throw new CheckpointError(where, `pickle: calling ${fn.qualified} is not allowed`);
  }
}

export function unpickle(data: Uint8Array, where: string): PickleValue {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder();
  const stack: Slot[] = [];
  const memo = new Map<number, PickleValue>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > data.byteLength) throw new CheckpointError(where, 'pickle is truncated');
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) throw new CheckpointError(where, 'pickle stack underflow');
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw new CheckpointError(where, 'pickle stack underflow');
    return v;
  };
  const popMark = (): PickleValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new CheckpointError(where, 'pickle MARK missing');
    const items = stack.splice(i) as PickleValue[];
    items.shift();
    return items;
  };
  const readLine = (): string => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) throw new CheckpointError(where, 'pickle is truncated');
    const s = dec.decode(data.subarray(p, end));
    p = end + 1;
    return s;
  };
  const str = (n: number): string => { need(n); const s = dec.decode(data.subarray(p, p + n)); p += n; return s; };
  const setItems = (target: PickleValue, kv: PickleValue[]) => {
    if (!(target instanceof Map)) throw new CheckpointError(where, 'pickle: SETITEM on a non-dict');
    for (let i = 0; i + 1 < kv.length; i += 2) target.set(kv[i], kv[i + 1]);
  };
  const append = (target: PickleValue, items: PickleValue[]) => {
    if (!Array.isArray(target)) throw new CheckpointError(where, 'pickle: APPEND on a non-list');
    target.push(...items);
  };

  for (;;) {
    need(1);
    const op = data[p++];
    switch (op) {
      case 0x80: need(1); p += 1; break; // PROTO
      case 0x95: need(8); p += 8; break; // FRAME (protocol 4)
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push({ kind: 'tuple', items: [] }); break; // EMPTY_TUPLE
      case 0x28: stack.push(MARK); break;
      case 0x58: { need(4); const n = dv.getUint32(p, true); p += 4; stack.push(str(n)); break; } // BINUNICODE
      case 0x8c: case 0x55: { need(1); const n = data[p++]; stack.push(str(n)); break; } // SHORT_BINUNICODE, SHORT_BINSTRING
      case 0x54: { need(4); const n = dv.getInt32(p, true); p += 4; stack.push(str(n)); break; } // BINSTRING
      case 0x4a: need(4); stack.push(dv.getInt32(p, true)); p += 4; break; // BININT
      case 0x4b: need(1); stack.push(data[p++]); break; // BININT1
      case 0x4d: need(2); stack.push(dv.getUint16(p, true)); p += 2; break; // BININT2
      case 0x8a: { // LONG1: little-endian two's complement
        need(1); const n = data[p++]; need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]);
        if (n > 0 && data[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: need(8); stack.push(dv.getFloat64(p, false)); p += 8; break; // BINFLOAT (big-endian)
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x74: stack.push({ kind: 'tuple', items: popMark() }); break; // TUPLE
      case 0x85: stack.push({ kind: 'tuple', items: [pop()] }); break;
      case 0x86: { const b = pop(); const a = pop(); stack.push({ kind: 'tuple', items: [a, b] }); break; }
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push({ kind: 'tuple', items: [a, b, c] }); break; }
      case 0x71: need(1); memo.set(data[p++], top()); break; // BINPUT
      case 0x72: need(4); memo.set(dv.getUint32(p, true), top()); p += 4; break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? (need(1), data[p++]) : (need(4), dv.getUint32((p += 4) - 4, true));
        if (!memo.has(k)) throw new CheckpointError(where, `pickle memo ${k} missing`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x63: case 0x93: { // GLOBAL, STACK_GLOBAL
        let module: string; let name: string;
        if (op === 0x63) { module = readLine(); name = readLine(); } else {
          const n = pop(); const m = pop();
          if (typeof m !== 'string' || typeof n !== 'string') throw new CheckpointError(where, 'pickle: bad STACK_GLOBAL');
          module = m; name = n;
        }
        const g = new PickleGlobal(module, name);
        if (!ALLOWED_GLOBALS.has(g.qualified)) {
          throw new CheckpointError(where, `pickle refers to ${g.qualified}, which a state dict never needs; refusing to load it`);
        }
        stack.push(g);
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(); const fn = pop();
        if (!(fn instanceof PickleGlobal)) throw new CheckpointError(where, 'pickle: REDUCE on a non-callable');
        stack.push(callGlobal(fn, tupleItems(args, 'REDUCE arguments', where), where));
        break;
      }
      case 0x51: { // BINPERSID
        const pid = tupleItems(pop(), 'persistent id', where);
        const [tag, type, key, , numel] = pid;
        if (tag !== 'storage' || !(type instanceof PickleGlobal) || typeof key !== 'string') {
          throw new CheckpointError(where, 'pickle: unsupported persistent id (expected a torch storage)');
        }
        stack.push({ kind: 'storage', storageType: type.name, key, numel: asInt(numel, 'storage numel', where) });
        break;
      }
      case 0x62: { // BUILD: a state dict's attributes (its `_metadata` versions) are not tensors: dropped.
        pop();
        if (!(top() instanceof Map)) throw new CheckpointError(where, 'pickle: BUILD on an unsupported object');
        break;
      }
      case 0x2e: return pop(); // STOP
      default:
        throw new CheckpointError(where, `pickle opcode 0x${op.toString(16).padStart(2, '0')} (${JSON.stringify(String.fromCharCode(op))}) at byte ${p - 1} is not allowed in a state dict`);
    }
  }
}
