import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../src/onnx/graph.ts';
import { DataType, decodeModel, encodeModel } from '../../../src/onnx/proto.ts';

describe('ONNX protobuf encoding', () => {
  it('round-trips a model whose initializers are appended as raw length-delimited fields', () => {
    const b = new GraphBuilder();
    // 300 floats: a raw_data length (1200) and a tensor length that need 2-byte varints.
    const w = b.initializer('w', Float32Array.from({ length: 300 }, (_, i) => i / 7), [300]);
    const s = b.ints([2, -1, 2 ** 40]);
    b.node('Add', ['x', w], {}, ['y']);
    const model = b.build({
      name: 'g', docString: 'doc', metadata: { k: 'v' },
      inputs: [{ name: 'x', type: DataType.FLOAT, dims: ['N', 300] }], outputs: [{ name: 'y', type: DataType.FLOAT, dims: ['N', 300] }],
    });
    const back = decodeModel(encodeModel(model));
    expect(back.graph.initializer.map((t) => [t.name, t.dims, t.data_type])).toEqual([[w, [300], DataType.FLOAT], [s, [3], DataType.INT64]]);
    expect(new Float32Array(new Uint8Array(back.graph.initializer[0].raw_data).buffer)).toEqual(Float32Array.from({ length: 300 }, (_, i) => i / 7));
    expect(new BigInt64Array(new Uint8Array(back.graph.initializer[1].raw_data).buffer)).toEqual(BigInt64Array.from([2n, -1n, 2n ** 40n]));
    expect(back.graph.node).toMatchObject(model.graph.node);
    expect(back.graph.input[0].type.tensor_type.shape.dim).toEqual([{ dim_param: 'N' }, { dim_value: 300 }]);
    expect([back.ir_version, back.producer_name, back.doc_string, back.metadata_props]).toEqual([8, 'inp-former-annotate', 'doc', [{ key: 'k', value: 'v' }]]);
  });
});
