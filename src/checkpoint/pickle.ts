import { CheckpointError } from '../errors.ts';

/**
 * A deliberately tiny pickle VM: only the opcodes and globals that torch.save(state_dict) emits. Anything else
 * (os.system, builtins.eval, INST/OBJ/NEWOBJ, arbitrary REDUCE) is refused by name, so loading a checkpoint can
 * never run code. Values are plain data: dicts become Maps, tensors become TensorRefs into named storages.
 */

export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string { return `${this.module}.${this.name}`; }
}

/** A persistent id as torch writes it: ('storage', torch.<T>Storage, key, location, numel). */
export interface StorageRef { kind: 'storage'; storageType: string; key: string; numel: number }

/** `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`: a strided view of a storage (elements). */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

export interface PickleTuple { kind: 'tuple'; items: PickleValue[] }

export type PickleValue =
  | null | boolean | number | bigint | string
  | PickleValue[] | Map<PickleValue, PickleValue>
  | PickleGlobal | StorageRef | TensorRef | PickleTuple;

export const STORAGE_TYPES = ['Float', 'Half', 'BFloat16', 'Double', 'Long', 'Int', 'Short', 'Char', 'Byte', 'Bool']
  .map((t) => `${t}Storage`);

const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...STORAGE_TYPES.map((t) => `torch.${t}`),
]);

/** Names of every pickle opcode, so a refused one is reported as Python's pickletools would name it. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const MARK = Symbol('mark');
type Slot = PickleValue | typeof MARK;

function isKind<K extends string>(v: PickleValue, kind: K): v is Extract<PickleValue, { kind: K }> {
  return !!v && typeof v === 'object' && 'kind' in v && v.kind === kind;
}

const MAX_STACK_ITEMS = 1_000_000;

/**
 * Interprets `data` (the bytes of data.pkl). `where` names the file in errors. Supports protocol 2 as torch.save
 * writes it, plus FRAME / STACK_GLOBAL / MEMOIZE so a state dict re-saved with protocol 4 still loads.
 */
export function unpickle(data: Uint8Array, where: string): PickleValue {
  const fail = (msg: string): never => { throw new CheckpointError(where, `data.pkl: ${msg}`); };
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder();
  const stack: Slot[] = [];
  const memo = new Map<number, PickleValue>();
  let p = 0;

  const need = (n: number) => { if (n < 0 || p + n > data.byteLength) fail('pickle is truncated'); };
  const pop = (): PickleValue => {
    const v = stack.pop();
    return v === undefined || v === MARK ? fail('pickle stack underflow') : v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    return v === undefined || v === MARK ? fail('pickle stack underflow') : v;
  };
  const popMark = (): PickleValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('pickle MARK missing');
    return stack.splice(i).slice(1) as PickleValue[];
  };
  const u8 = () => { need(1); return data[p++]; };
  const u16 = () => { need(2); p += 2; return dv.getUint16(p - 2, true); };
  const u32 = () => { need(4); p += 4; return dv.getUint32(p - 4, true); };
  const i32 = () => { need(4); p += 4; return dv.getInt32(p - 4, true); };
  const str = (n: number): string => { need(n); p += n; return dec.decode(data.subarray(p - n, p)); };
  const line = (): string => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) fail('pickle is truncated');
    const s = dec.decode(data.subarray(p, end));
    p = end + 1;
    return s;
  };
  const tupleItems = (v: PickleValue, what: string): PickleValue[] => (isKind(v, 'tuple') ? v.items : fail(`${what} must be a tuple`));
  const int = (v: PickleValue, what: string): number => {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    return fail(`${what} must be an integer, got ${typeof v === 'bigint' ? `${v}` : JSON.stringify(v)}`);
  };
  const getGlobal = (module: string, name: string): PickleGlobal => {
    const g = new PickleGlobal(module, name);
    if (!ALLOWED_GLOBALS.has(g.qualified)) fail(`refers to ${g.qualified}, which a state dict never needs; refusing to load it`);
    return g;
  };

  const call = (fn: PickleGlobal, args: PickleValue[]): PickleValue => {
    switch (fn.qualified) {
      case 'collections.OrderedDict':
        if (args.length) fail('OrderedDict(...) with arguments is not supported');
        return new Map();
      case 'torch._utils._rebuild_tensor_v2': {
        const [storage, offset, size, stride] = args;
        if (args.length < 4 || !isKind(storage, 'storage')) fail('_rebuild_tensor_v2 without a storage');
        const shape = tupleItems(size, 'tensor size').map((d) => int(d, 'tensor size'));
        const strides = tupleItems(stride, 'tensor stride').map((d) => int(d, 'tensor stride'));
        if (shape.length !== strides.length || shape.some((d) => d < 0) || strides.some((s) => s < 0)) {
          fail(`tensor size (${shape}) and stride (${strides}) do not describe a view`);
        }
        return { kind: 'tensor', storage: storage as StorageRef, offset: int(offset, 'storage offset'), shape, stride: strides };
      }
      case 'torch._utils._rebuild_parameter':
        // nn.Parameter(data, requires_grad, hooks): only the data matters here.
        return isKind(args[0], 'tensor') ? args[0] : fail('_rebuild_parameter without a tensor');
      default:
        return fail(`calling ${fn.qualified} is not allowed`);
    }
  };

  for (;;) {
    // A state dict's pickle keeps a few dozen items on the stack; millions mean a file built to exhaust memory.
    if (stack.length > MAX_STACK_ITEMS) fail(`pickle stack grows past ${MAX_STACK_ITEMS} items (not a state dict)`);
    need(1);
    const at = p;
    const op = data[p++];
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: need(8); p += 8; break; // FRAME: framing only, the opcodes follow inline
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push({ kind: 'tuple', items: [] }); break; // EMPTY_TUPLE
      case 0x28: stack.push(MARK); break; // MARK
      case 0x58: stack.push(str(u32())); break; // BINUNICODE
      case 0x8c: case 0x55: stack.push(str(u8())); break; // SHORT_BINUNICODE, SHORT_BINSTRING
      case 0x54: stack.push(str(i32())); break; // BINSTRING
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { // LONG1: little-endian two's complement of n bytes
        const n = u8();
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]);
        if (n > 0 && data[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: need(8); stack.push(dv.getFloat64(p, false)); p += 8; break; // BINFLOAT is big-endian
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x74: stack.push({ kind: 'tuple', items: popMark() }); break; // TUPLE
      case 0x85: stack.push({ kind: 'tuple', items: [pop()] }); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push({ kind: 'tuple', items: [a, b] }); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push({ kind: 'tuple', items: [a, b, c] }); break; }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo entry ${k} is missing`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x63: { const module = line(); stack.push(getGlobal(module, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const n = pop(); const m = pop();
        if (typeof m !== 'string' || typeof n !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(getGlobal(m as string, n as string));
        break;
      }
      case 0x52: { // REDUCE: only the allow-listed callables above, never a generic call
        const args = pop(); const fn = pop();
        if (!(fn instanceof PickleGlobal)) fail('REDUCE on something that is not an allowed global');
        stack.push(call(fn as PickleGlobal, tupleItems(args, 'REDUCE arguments')));
        break;
      }
      case 0x51: { // BINPERSID
        const [tag, type, key, , n] = tupleItems(pop(), 'persistent id');
        if (tag !== 'storage' || !(type instanceof PickleGlobal) || type.module !== 'torch' || typeof key !== 'string') {
          fail('persistent id is not a torch storage (\'storage\', torch.<T>Storage, key, location, numel)');
        }
        stack.push({ kind: 'storage', storageType: (type as PickleGlobal).name, key: key as string, numel: int(n, 'storage numel') });
        break;
      }
      case 0x62: { // BUILD: the state dict's `_metadata` attribute (module versions) is not a tensor: dropped.
        const state = pop();
        if (!(top() instanceof Map) || !(state === null || state instanceof Map || (isKind(state, 'tuple') && !state.items.length))) {
          fail('BUILD is only supported to set attributes of an OrderedDict');
        }
        break;
      }
      case 0x2e: { // STOP
        const v = pop();
        if (stack.length) fail('pickle ends with values left on the stack');
        return v;
      }
      default:
        fail(`opcode ${OPCODE_NAMES[op] ?? 'unknown'} (0x${op.toString(16).padStart(2, '0')}) at byte ${at} is not allowed in a state dict`);
    }
  }

  function setItems(target: PickleValue, kv: PickleValue[]): void {
    if (!(target instanceof Map)) fail('SETITEM on something that is not a dict');
    if (kv.length % 2) fail('SETITEMS with an odd number of values');
    for (let i = 0; i < kv.length; i += 2) (target as Map<PickleValue, PickleValue>).set(kv[i], kv[i + 1]);
  }
  function append(target: PickleValue, items: PickleValue[]): void {
    if (!Array.isArray(target)) fail('APPEND on something that is not a list');
    (target as PickleValue[]).push(...items);
  }
}
