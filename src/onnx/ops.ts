import { gaussianKernel } from '../map/anomaly-map.ts';
import { float, type GraphBuilder } from './graph.ts';

/**
 * Graph-level building blocks: the ONNX counterparts of the tfjs ops in src/runtime/ops.ts and
 * src/map/anomaly-map.ts. Tensors are named by strings; shapes in the comments. Opset 17.
 */

/** x[..., in]·W + b with W already [in, out]. */
export function dense(b: GraphBuilder, x: string, w: string, bias: string): string {
  return b.op('Add', [b.op('MatMul', [x, w]), bias]);
}

/** torch.nn.LayerNorm over the last axis: the fused LayerNormalization op of opset 17. */
export function layerNorm(b: GraphBuilder, x: string, scale: string, bias: string, eps: number): string {
  return b.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: float(eps) });
}

/**
 * Exact GELU, x·½(1 + erf(x/√2)), in the node order torch.onnx emits for nn.GELU(), which onnxruntime fuses
 * into its Gelu kernel.
 */
export function gelu(b: GraphBuilder, x: string): string {
  const e = b.op('Erf', [b.op('Div', [x, b.floats([Math.SQRT2])])]);
  return b.op('Mul', [b.op('Mul', [x, b.op('Add', [e, b.floats([1])])]), b.floats([0.5])]);
}

/** [B, L, h·d] → [B, h, L, d], or [B, h, d, L] when `transposed` (a key ready for q·kᵀ). */
export function splitHeads(b: GraphBuilder, x: string, heads: number, d: number, transposed = false): string {
  // Reshape's 0 copies the input's dimension, so B and L stay free (the batch is dynamic).
  const r = b.op('Reshape', [x, b.ints([0, 0, heads, d])]);
  return b.op('Transpose', [r], { perm: transposed ? [0, 2, 3, 1] : [0, 2, 1, 3] });
}

/** [B, h, L, d] → [B, L, h·d]. */
export function mergeHeads(b: GraphBuilder, x: string, width: number): string {
  return b.op('Reshape', [b.op('Transpose', [x], { perm: [0, 2, 1, 3] }), b.ints([0, 0, width])]);
}

/** weights(q·kᵀ)·v per head on split heads: q [B,h,Lq,d], kT [B,h,d,Lk], v [B,h,Lk,dv] → [B,h,Lq,dv]. */
export function attend(b: GraphBuilder, q: string, kT: string, v: string, weights: 'Softmax' | 'Relu'): string {
  const s = b.op('MatMul', [q, kT]);
  return b.op('MatMul', [weights === 'Softmax' ? b.op('Softmax', [s], { axis: -1 }) : b.op('Relu', [s]), v]);
}

/** F.normalize over the last axis: x / max(‖x‖₂, eps). */
export function l2Normalize(b: GraphBuilder, x: string, eps = 1e-12): string {
  const n = b.op('ReduceL2', [x], { axes: [-1], keepdims: 1 });
  return b.op('Div', [x, b.op('Max', [n, b.floats([eps])])]);
}

/**
 * 1 − cosine similarity as torch 1.13's F.cosine_similarity (x·y / √max(‖x‖²·‖y‖², eps²)), from the dot product
 * and the two squared norms, which broadcast against each other.
 */
export function cosineDistance(b: GraphBuilder, dot: string, sqA: string, sqB: string, eps = 1e-8): string {
  const denom = b.op('Sqrt', [b.op('Max', [b.op('Mul', [sqA, sqB]), b.floats([eps * eps])])]);
  return b.op('Sub', [b.floats([1]), b.op('Div', [dot, denom])]);
}

/** Σ x² over the last axis (ReduceSum takes its axes as an input since opset 13). */
export function sumSquares(b: GraphBuilder, x: string, keepdims: 0 | 1): string {
  return b.op('ReduceSum', [b.op('Mul', [x, x]), b.ints([-1])], { keepdims });
}

/** Mean of same-shaped tensors. */
export function meanOf(b: GraphBuilder, xs: string[]): string {
  return xs.length === 1 ? xs[0] : b.op('Div', [b.op('Sum', xs), b.floats([xs.length])]);
}

/**
 * Bilinear resize of [B, C, h, w] to `size` ([H, W], or a runtime int64 [H, W] tensor's name).
 * `align_corners` is torch's align_corners=True; `half_pixel` is align_corners=False (tfjs halfPixelCenters), with
 * border samples clamped as torch does. The output size goes in as a full `sizes` tensor: the batch and channel
 * dimensions are copied from x at run time, so B stays dynamic.
 */
export function resizeBilinear(b: GraphBuilder, x: string, size: [number, number] | string, mode: 'align_corners' | 'half_pixel'): string {
  const head = b.op('Shape', [x], { start: 0, end: 2 });
  const sizes = b.op('Concat', [head, typeof size === 'string' ? size : b.ints(size)], { axis: 0 });
  return b.op('Resize', [x, '', '', sizes], { mode: 'linear', coordinate_transformation_mode: mode });
}

/**
 * The official evaluation chain on a coarse map [N, 1, gh, gw]: align-corners upsample to the input size,
 * half-pixel resize to the scoring size, 5×5 σ=4 Gaussian (zero padding 2), score = mean of the top values.
 * Outputs are written under the given names. The ONNX form of finishMap (src/map/anomaly-map.ts), shared by
 * every exported detector.
 */
export function mapChain(b: GraphBuilder, coarse: string, o: { inputSize: [number, number]; mapSize: [number, number]; topRatio: number }, names: [string, string]): void {
  const up = resizeBilinear(b, coarse, o.inputSize, 'align_corners');
  const scored = resizeBilinear(b, up, o.mapSize, 'half_pixel');
  const kernel = b.initializer('gaussian_kernel_5_sigma4', gaussianKernel(5, 4), [1, 1, 5, 5]);
  b.node('Conv', [scored, kernel], { kernel_shape: [5, 5], pads: [2, 2, 2, 2] }, [names[0]]);
  const [H, W] = o.mapSize;
  const flat = b.op('Reshape', [names[0], b.ints([0, H * W])]);
  const k = Math.floor(H * W * o.topRatio);
  if (k < 1) {
    b.node('ReduceMax', [flat], { axes: [1], keepdims: 0 }, [names[1]]);
    return;
  }
  const [top] = b.node('TopK', [flat, b.ints([k])], { axis: -1, largest: 1, sorted: 0 }, 2);
  b.node('ReduceMean', [top], { axes: [1], keepdims: 0 }, [names[1]]);
}
