import type { RefineHead } from '../refine/config.ts';
import type { GraphBuilder } from './graph.ts';
import { resizeBilinear } from './ops.ts';

/**
 * The refinement head (src/refine/head.ts) as ONNX ops, node for node with the tfjs path: residual features
 * [N, L, inputDim] and the raw coarse map [N, 1, gh, gw] → the refined coarse map [N, 1, 4gh, 4gw] (the mean of
 * the raw map over its normal level and the head's probability), which the model's map chain then finishes.
 */
export function refinedCoarseGraph(b: GraphBuilder, residual: string, coarse: string, grid: [number, number], head: RefineHead): string {
  const t = (k: string) => {
    const v = head.tensors.get(k)!;
    return b.initializer(`refine.${k}`, v.data as Float32Array, v.shape);
  };
  const [gh, gw] = grid;
  const [w0] = head.config.widths;
  const x = b.op('Div', [residual, t('input_scale')]);
  let h = b.op('Relu', [b.op('Add', [b.op('MatMul', [x, t('proj.weight')]), t('proj.bias')])]);
  h = b.op('Reshape', [h, b.ints([0, gh, gw, w0])]);
  // A 2×2 stride-2 transposed convolution: each token's MatMul row is its own 2×2 block (dy, dx, channel).
  const up = (y: string, name: 'up1' | 'up2', side: [number, number], width: number) => {
    const z = b.op('Reshape', [b.op('MatMul', [y, t(`${name}.weight`)]), b.ints([0, side[0], side[1], 2, 2, width])]);
    const blocks = b.op('Reshape', [b.op('Transpose', [z], { perm: [0, 1, 3, 2, 4, 5] }), b.ints([0, 2 * side[0], 2 * side[1], width])]);
    return b.op('Relu', [b.op('Add', [blocks, t(`${name}.bias`)])]);
  };
  const [, w1, w2] = head.config.widths;
  h = up(h, 'up1', [gh, gw], w1);
  h = up(h, 'up2', [2 * gh, 2 * gw], w2);
  const logits = b.op('Add', [b.op('MatMul', [h, t('out.weight')]), t('out.bias')]);
  const prob = b.op('Sigmoid', [b.op('Transpose', [logits], { perm: [0, 3, 1, 2] })]);
  const raw = b.op('Div', [resizeBilinear(b, coarse, [4 * gh, 4 * gw], 'align_corners'), b.floats([head.config.rawScale])]);
  return b.op('Mul', [b.op('Add', [raw, prob]), b.floats([0.5])]);
}
