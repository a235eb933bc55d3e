import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

/**
 * ONNX protobuf encoding over the official schema (onnx.proto3, vendored unchanged from onnx/onnx).
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

let modelType: protobuf.Type | undefined;

/** The schema is parsed once, on first use. */
function modelProtoType(): protobuf.Type {
  if (!modelType) {
    const schema = readFileSync(new URL('./onnx.proto3', import.meta.url), 'utf8');
    modelType = protobuf.parse(schema, { keepCase: true }).root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

/** Serialises a model; protobuf messages are limited to 2 GiB, so larger graphs are refused with their size. */
export function encodeModel(model: ModelProto): Uint8Array {
  const bytes = model.graph.initializer.reduce((s, t) => s + t.raw_data.byteLength, 0);
  if (bytes >= 2 ** 31) {
    throw new RangeError(`the graph's initializers take ${(bytes / 2 ** 30).toFixed(2)} GiB; a single ONNX file holds under 2 GiB (external data is not supported)`);
  }
  return modelProtoType().encode(model).finish();
}

/** Parses a serialised model back into plain objects (tests and metadata checks). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const t = modelProtoType();
  return t.toObject(t.decode(bytes), { longs: Number, defaults: false, arrays: true }) as ModelProto;
}
