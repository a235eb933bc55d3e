import {
  AttributeType, DataType, valueInfo, type AttributeProto, type DataTypeValue, type Dim, type ModelProto, type NodeProto,
  type TensorProto,
} from './proto.ts';

/** A float attribute; plain numbers are INT attributes, number[] INTS, strings STRING. */
export interface FloatAttr { float: number }
export const float = (v: number): FloatAttr => ({ float: v });
export type AttrValue = number | number[] | string | FloatAttr;

/** IR version 8 goes with opset 17 (onnx/helper.py VERSION_TABLE). */
export const OPSET = 17;
const IR_VERSION = 8;

function attribute(name: string, v: AttrValue): AttributeProto {
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new TypeError(`attribute ${name}: ${v} is not an integer (use float())`);
    return { name, type: AttributeType.INT, i: v };
  }
  return { name, type: AttributeType.FLOAT, f: v.float };
}

/** Little-endian bytes of a typed array (every platform onnxruntime ships for is little-endian). */
const bytesOf = (a: Float32Array | BigInt64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export interface GraphIO { name: string; type: DataTypeValue; dims: Dim[] }

/**
 * Collects the nodes and initializers of one ONNX graph. Node outputs get generated names under the current
 * scope (`encoder.blocks.3/MatMul_12`), so Netron and onnxruntime errors point at the model part; weights keep
 * their checkpoint names. Constants are shared by value.
 */
export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly inits = new Map<string, TensorProto>();
  private readonly consts = new Map<string, string>();
  private prefix = '';
  private counter = 0;

  /** Runs `fn` with generated names under `name/`. */
  scope<T>(name: string, fn: () => T): T {
    const outer = this.prefix;
    this.prefix = `${outer}${name}/`;
    try {
      return fn();
    } finally {
      this.prefix = outer;
    }
  }

  /** A weight under its own name; asking again for the same name returns the one already stored. */
  initializer(name: string, data: Float32Array | BigInt64Array, dims: number[]): string {
    if (this.inits.has(name)) return name;
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new RangeError(`initializer ${name}: ${data.length} values for shape [${dims}]`);
    this.inits.set(name, { name, dims, data_type: data instanceof Float32Array ? DataType.FLOAT : DataType.INT64, raw_data: bytesOf(data) });
    return name;
  }

  /** A float32 constant (scalar when `dims` is empty). */
  floats(values: readonly number[], dims: number[] = values.length === 1 ? [] : [values.length]): string {
    return this.constant('f', values, dims, () => Float32Array.from(values));
  }

  /** An int64 1-D constant (shapes, axes, sizes). */
  ints(values: readonly number[]): string {
    return this.constant('i', values, [values.length], () => BigInt64Array.from(values, (v) => BigInt(v)));
  }

  private constant(kind: string, values: readonly number[], dims: number[], make: () => Float32Array | BigInt64Array): string {
    const key = `${kind}[${dims}]:${values.join(',')}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.initializer(`const_${this.consts.size}`, make(), dims);
      this.consts.set(key, name);
    }
    return name;
  }

  /** Adds one node and returns its output names (`outputs` of them, or the names given). */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs: number | string[] = 1): string[] {
    const id = `${this.prefix}${opType}_${this.counter++}`;
    const output = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => (outputs === 1 ? id : `${id}_${i}`)) : outputs;
    this.nodes.push({ name: id, op_type: opType, input: inputs, output, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return output;
  }

  /** One-output node. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, attrs)[0];
  }

  /** The finished model; graph outputs must already be produced under their names (see `node`'s `outputs`). */
  build(o: { name: string; inputs: GraphIO[]; outputs: GraphIO[]; docString?: string; metadata?: Record<string, string> }): ModelProto {
    return {
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: 'inp-former-annotate',
      producer_version: '0.1.0',
      ...(o.docString ? { doc_string: o.docString } : {}),
      graph: {
        name: o.name,
        node: this.nodes,
        initializer: [...this.inits.values()],
        input: o.inputs.map((v) => valueInfo(v.name, v.type, v.dims)),
        output: o.outputs.map((v) => valueInfo(v.name, v.type, v.dims)),
      },
      metadata_props: Object.entries(o.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
  }
}
