import protobuf from 'protobufjs';
import { ONNX_PROTO3 } from './onnx-proto3.ts';

/**
 * ONNX protobuf encoding over the official schema (onnx.proto3, vendored unchanged from onnx/onnx in onnx-proto3.ts).
 * Field names are the schema's own (snake_case, `keepCase`), so the plain objects below read like onnx.proto.
 */

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT64: 7 } as const;
export type DataTypeValue = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  data_type: DataTypeValue;
  /** Little-endian values, C order (the raw_data field). */
  raw_data: Uint8Array;
}

export interface AttributeProto {
  name: string;
  type: (typeof AttributeType)[keyof typeof AttributeType];
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
  domain?: string;
}

/** A dimension is fixed (number) or named and free (string, e.g. the batch "N"). */
export type Dim = number | string;

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: DataTypeValue; shape: { dim: Array<{ dim_value: number } | { dim_param: string }> } } };
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  doc_string?: string;
}

export interface ModelProto {
  ir_version: number;
  opset_import: Array<{ domain: string; version: number }>;
  producer_name: string;
  producer_version: string;
  doc_string?: string;
  graph: GraphProto;
  metadata_props: Array<{ key: string; value: string }>;
}

export function valueInfo(name: string, elemType: DataTypeValue, dims: readonly Dim[]): ValueInfoProto {
  return {
    name,
    type: { tensor_type: { elem_type: elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

let root: protobuf.Root | undefined;

/** The schema is parsed once, on first use. */
function schema(name: 'ModelProto' | 'GraphProto' | 'TensorProto'): protobuf.Type {
  root ??= protobuf.parse(ONNX_PROTO3, { keepCase: true }).root;
  return root.lookupType(`onnx.${name}`);
}

/** A varint (lengths up to 2^53, so no 32-bit shifts). */
function varint(n: number): number[] {
  const out: number[] = [];
  for (; n > 127; n = Math.floor(n / 128)) out.push((n % 128) | 128);
  out.push(n);
  return out;
}

/** Key of a length-delimited field (wire type 2) of `type`. */
const lenKey = (type: protobuf.Type, field: string) => varint(type.fields[field].id * 8 + 2);

/**
 * Serialises a model. protobufjs encodes every message except the bulk bytes: a protobuf message is the
 * concatenation of its fields, so the graph and each initializer's raw_data are appended as length-delimited
 * fields here. That copies each weight once, and avoids protobufjs 8's Writer, whose buffer growth stops
 * doubling past 1 GiB (`length << 1` overflows) and then copies the whole buffer on every write (ViT-L never
 * finished). Protobuf messages are limited to 2 GiB, so larger graphs are refused with their size.
 */
export function encodeModel(model: ModelProto): Uint8Array {
  const [modelType, graphType, tensorType] = [schema('ModelProto'), schema('GraphProto'), schema('TensorProto')];
  const { graph, ...rest } = model;
  const { initializer, ...graphRest } = graph;
  const graphChunks: Array<Uint8Array | number[]> = [graphType.encode(graphRest).finish()];
  const rawKey = lenKey(tensorType, 'raw_data');
  for (const { raw_data, ...meta } of initializer) {
    const head = tensorType.encode(meta).finish();
    const rawLen = varint(raw_data.byteLength);
    graphChunks.push(lenKey(graphType, 'initializer'), varint(head.length + rawKey.length + rawLen.length + raw_data.byteLength), head, rawKey, rawLen, raw_data);
  }
  const graphBytes = graphChunks.reduce((n, c) => n + c.length, 0);
  if (graphBytes >= 2 ** 31) {
    throw new RangeError(`the graph takes ${(graphBytes / 2 ** 30).toFixed(2)} GiB; a single ONNX file holds under 2 GiB (external data is not supported)`);
  }
  const chunks = [modelType.encode(rest).finish(), lenKey(modelType, 'graph'), varint(graphBytes), ...graphChunks];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/** Parses a serialised model back into plain objects (tests and metadata checks). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const t = schema('ModelProto');
  return t.toObject(t.decode(bytes), { longs: Number, defaults: false, arrays: true }) as ModelProto;
}
